/** probeCamera: connect once, report what the stream negotiates and how long the first frame took. */
import { performance } from 'node:perf_hooks';
import { redactUrl } from '../redact.ts';
import { diagnoseDown } from './diagnose.ts';
import { secretStringsOf } from '../redact.ts';
import { buildPipeline, PipelineConfigError } from './pipeline.ts';
import { GstLaunchSource, type Source } from './source.ts';
import { CameraError, type Codec, type DecoderConfig, type SourceConfig, type Transport, type VideoCaps } from './types.ts';

export interface ProbeOptions {
  readonly transport?: Transport;
  /** Give up when no frame arrived after this long. Default 10000. */
  readonly timeoutMs?: number;
  /** Default `auto` (decodebin): a probe should work whatever the camera sends. */
  readonly codec?: Codec;
  readonly decoder?: DecoderConfig;
  readonly source?: Source;
}

export interface ProbeResult {
  /** The URL with credentials redacted. */
  readonly url: string;
  readonly transport: Transport | undefined;
  /** Decoded stream caps (native size, RGB as delivered to JS). */
  readonly caps: VideoCaps;
  /** ms from starting GStreamer to the first decoded frame in JS (connect + keyframe + decode). */
  readonly firstFrameMs: number;
  /** The pipeline used, credentials redacted. */
  readonly pipeline: string;
}

/**
 * Probe a camera (rtsp:// or rtsps:// URL) or a video file (any other string is a path).
 * Rejects with a CameraError (code, message, hint; never credentials).
 */
export async function probeCamera(url: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const isRtsp = /^rtsps?:\/\//i.test(url);
  const decoder = opts.decoder ?? 'cpu';
  const codec = opts.codec ?? (decoder === 'cpu' ? 'auto' : 'h264');
  const sourceCfg: SourceConfig = isRtsp
    ? { kind: 'rtsp', url, transport: opts.transport ?? 'tcp', codec }
    : { kind: 'file', path: url.replace(/^file:\/\//, ''), realtime: false, codec };
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const context = { url: redactUrl(url) };
  let pipeline;
  try {
    pipeline = buildPipeline({ source: sourceCfg, decoder });
  } catch (e) {
    if (e instanceof PipelineConfigError) throw new CameraError({ kind: 'bad-pipeline', message: e.message, hint: 'check the URL and options' }, context);
    throw e;
  }
  const source = opts.source ?? new GstLaunchSource();
  const missing = await source.missingElements(pipeline.elements);
  if (missing.length) {
    throw new CameraError(
      { kind: 'missing-element', message: `no element "${missing[0]}"`, hint: `install the GStreamer plugin that provides ${missing[0]}, or use decoder cpu` },
      context,
    );
  }
  const started = performance.now();
  const p = pipeline;
  return new Promise<ProbeResult>((resolve, reject) => {
    let caps: VideoCaps | undefined;
    let settled = false;
    const timer = setTimeout(() => {
      finish();
      reject(
        new CameraError(
          { kind: 'start-timeout', message: `no video frame from ${redactUrl(url)} within ${timeoutMs} ms`, hint: 'the camera accepted the connection but sent no decodable video; check it, or raise --timeout-ms' },
          context,
        ),
      );
    }, timeoutMs);
    const finish = () => {
      settled = true;
      clearTimeout(timer);
      sub.unsubscribe();
    };
    const sub = source.run(p, { secrets: secretStringsOf(url), source: sourceCfg }).subscribe((ev) => {
      if (settled) return;
      if (ev.type === 'caps') caps = ev.caps;
      else if (ev.type === 'frame' && caps) {
        const firstFrameMs = Math.round(performance.now() - started);
        finish();
        resolve({ url: redactUrl(url), transport: isRtsp ? opts.transport ?? 'tcp' : undefined, caps, firstFrameMs, pipeline: p.description });
      } else if (ev.type === 'ended') {
        finish();
        const raw = ev.reason.kind === 'eos' ? { kind: 'no-video' as const, message: `${redactUrl(url)}: ended before the first video frame`, hint: 'the stream or file has no decodable video' } : ev.reason;
        diagnoseDown(raw, sourceCfg).then(
          (reason) => reject(new CameraError(reason, context)),
          () => reject(new CameraError(raw, context)),
        );
      }
    });
  });
}

/**
 * The `Source` seam: something that runs one pipeline and emits its caps and frames. The only
 * implementation today is GstLaunchSource (a `gst-launch-1.0` child process per pipeline run,
 * GDP framing over its stdout); an in-process binding can replace it behind the same interface.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { Observable } from 'rxjs';
import { moduleAsset } from '../paths.ts';
import { BufferPool, createFrameLease } from '../lib/frame-lease.ts';
import type { FrameLease, RgbImage } from '../types.ts';
import { killOwned, isShuttingDown, spawnOwned } from './children.ts';
import { classifyExit, classifySpawnError, scrubSecrets, spawnErrorCode, type PipelineExit } from './failure.ts';
import { assembleRgbImage, framePayloadSize, isPacked, isVideoCaps, parseVideoCaps } from './frame.ts';
import { GDP_FLAG_DELTA_UNIT, GDP_PAYLOAD_CAPS, GdpParser, GdpProtocolError, type GdpPacket } from './gdp.ts';
import { openFramePipe, type FramePipe } from './frame-pipe.ts';
import { FramePairer, pairKey } from './pair.ts';
import { DETECT_VIEW_FD, type PipelineDescription } from './pipeline.ts';
import type { DownReason, SourceConfig, VideoCaps } from './types.ts';

export type SourceEvent =
  /** `input`: the child's stdin, for a pipeline that reads from it (`fdsrc fd=0`). */
  | { readonly type: 'started'; readonly pid: number | undefined; readonly input?: Writable | undefined }
  | { readonly type: 'caps'; readonly caps: VideoCaps }
  /** Caps of the detector copy (pipelines with `detectView` only). */
  | { readonly type: 'detect-caps'; readonly caps: VideoCaps }
  | {
      readonly type: 'frame';
      readonly image: RgbImage;
      /** The GStreamer-scaled copy of this frame for the detector (pipelines with `detectView`). */
      readonly detectView: RgbImage | undefined;
      /** Frames of either stream dropped unpaired since the previous frame event. */
      readonly unpaired: number;
      readonly pts: number | undefined;
      readonly offset: number | undefined;
      /** Bytes read off the pipe(s) for this frame (header + payload). */
      readonly bytes: number;
      /** ns spent in JS parsing/copying since the previous frame (the pipe copy cost). */
      readonly readNs: number;
      /**
       * The frame's one hold on its memory (both images), which comes from this run's pools: whoever
       * drops the frame releases it, so its memory takes a later frame (src/lib/frame-lease.ts).
       */
      readonly lease: FrameLease;
      /** True when every buffer of this frame was reused memory (no allocation). */
      readonly reused: boolean;
      /** Split runs: frames before this one were skipped on purpose (idle), so a PTS gap is no loss. */
      readonly resumed?: boolean;
      /** Split runs: decoded catch-up frames (older than a wake) dropped since the previous frame event. */
      readonly catchUp?: number;
      /** Split runs: the stream's own frame interval (from its access units), before any fps cap. */
      readonly sourceIntervalNs?: number;
    }
  /** A compressed access unit from a parse-only pipeline (split runs). */
  | {
      readonly type: 'au';
      readonly data: Uint8Array;
      readonly key: boolean;
      readonly pts: number | undefined;
      readonly dts: number | undefined;
      readonly duration: number | undefined;
      readonly flags: number;
    }
  /** A caps or event packet of the stream, what a split run re-sends to its decode child. */
  | {
      readonly type: 'au-meta';
      /** The GDP payload type as written (caps, or 64 + the full GstEventType). */
      readonly payloadType: number;
      /** GstEventType number; undefined for caps. */
      readonly eventNumber: number | undefined;
      /** The caps or the event's serialized structure. */
      readonly structure: string;
    }
  /** Split runs: one access unit parsed; how many went to the decoder, and what woke it. */
  | { readonly type: 'parsed'; readonly forwarded: number; readonly woke: 'size' | 'demand' | undefined }
  | { readonly type: 'stderr'; readonly line: string }
  /** Last event: the run is over. `reason` says why (classified, scrubbed). */
  | { readonly type: 'ended'; readonly reason: DownReason; readonly exit: PipelineExit };

export interface SourceRunOptions {
  /** Strings to scrub from anything the pipeline writes (credentials). */
  readonly secrets: readonly string[];
  /** The configured source, for person-readable failure reasons. */
  readonly source: SourceConfig;
  /** A frame's hold released once more than it was taken (a consumer's bug; its memory was not reused twice). */
  readonly onLeaseMisuse?: (() => void) | undefined;
}

/** How often a run drops free frame memory nobody took for a second (BufferPool.trim). */
const POOL_TRIM_EVERY_MS = 500;

/** Set to 1 to blacken a frame's memory when its last hold is released (tests: a read after release shows). */
export const POISON_RELEASED_FRAMES_ENV = 'FACEGATE_POISON_RELEASED_FRAMES';

export interface Source {
  /** Cold: subscribing starts the pipeline, unsubscribing kills it. Completes after `ended`. */
  run(pipeline: PipelineDescription, opts: SourceRunOptions): Observable<SourceEvent>;
  /** Names of elements the machine lacks, from `elements` (cached per process). */
  missingElements(elements: readonly string[]): Promise<string[]>;
}

// Read at each start (not at import) so a test or a wrapper script can point elsewhere.
const gstLaunch = (): string => process.env.FACEGATE_GST_LAUNCH ?? 'gst-launch-1.0';
/** Python with GStreamer bindings (Debian: /usr/bin/python3 + python3-gi) for the stdin launcher. */
const launcherPython = (): string => process.env.FACEGATE_GST_PYTHON ?? '/usr/bin/python3';
const LAUNCHER_SCRIPT = moduleAsset(import.meta.url, 'gst-launch-stdin.py');

/**
 * How a pipeline process is started. A pipeline that carries credentials goes to the stdin
 * launcher (gst-launch-stdin.py: same output and exit codes, pipeline read from a pipe) so no
 * password is on a command line; all others run `gst-launch-1.0 -q -e <argv>` directly.
 */
export interface LaunchPlan {
  readonly command: string;
  readonly args: readonly string[];
  /** Written to the child's stdin, then stdin is closed. */
  readonly stdin: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  /** Child stdio: stdin, stdout (frames), stderr, and fd 3 (detector copies) when the pipeline has one. */
  readonly stdio: readonly ('ignore' | 'pipe')[];
}

export function launchPlan(pipeline: Pick<PipelineDescription, 'argv' | 'carriesSecrets' | 'elements' | 'detectView'>, env: NodeJS.ProcessEnv = process.env): LaunchPlan {
  // rtspsrc warns "The server closed the connection" only through its debug log under gst-launch:
  // that one line tells a lost connection from a clean EOS (failure.ts). Not when the user set
  // their own GST_DEBUG.
  const extra: 'pipe'[] = pipeline.detectView ? ['pipe'] : [];
  // A decode child of a split run reads the stream facegate forwards on its stdin.
  const input: 'pipe' | 'ignore' = readsStdin(pipeline.argv) ? 'pipe' : 'ignore';
  const childEnv: NodeJS.ProcessEnv = pipeline.elements.includes('rtspsrc') && env.GST_DEBUG === undefined ? { ...env, GST_DEBUG: 'rtspsrc:2', GST_DEBUG_NO_COLOR: '1' } : { ...env };
  // The service's fixed mmap threshold (bin/facegate.js) is not for the children: a decoder's
  // frame buffers above it would be mapped and unmapped per frame (measured: +2.5 % of a core for
  // one 720p camera's child; docs/benchmarks.md).
  delete childEnv.MALLOC_MMAP_THRESHOLD_;
  if (pipeline.carriesSecrets) {
    // -I: ignore PYTHON* variables and the user's site directory (nothing injected into the launcher).
    // The launcher runs the pipeline in its own process, so fdsink fd=3 writes to the inherited pipe.
    return { command: launcherPython(), args: ['-I', LAUNCHER_SCRIPT], stdin: JSON.stringify(pipeline.argv), env: childEnv, stdio: ['pipe', 'pipe', 'pipe', ...extra] };
  }
  return { command: gstLaunch(), args: ['-q', '-e', ...pipeline.argv], stdin: undefined, env: childEnv, stdio: [input, 'pipe', 'pipe', ...extra] };
}

/** The pipeline starts with `fdsrc fd=0`: its input is the child's stdin. */
export function readsStdin(argv: readonly string[]): boolean {
  return argv[0] === 'fdsrc' && argv[1] === 'fd=0';
}
/** Why a camera with credentials cannot start when the launcher file is not where the code expects it. */
export function launcherMissing(path: string): DownReason {
  return {
    kind: 'gstreamer-missing',
    message: `the GStreamer launcher for cameras with credentials is missing (${path})`,
    hint: 'this install is incomplete: run `npm run build` (it copies the launcher into dist/) or reinstall facegate; facegate retries every 30 s',
  };
}

const gstInspect = (): string => process.env.FACEGATE_GST_INSPECT ?? 'gst-inspect-1.0';
const STDERR_LINES_KEPT = 40;

const elementCache = new Map<string, Promise<boolean>>();

function elementExists(name: string): Promise<boolean> {
  let p = elementCache.get(name);
  if (!p) {
    p = new Promise<boolean>((resolve) => {
      try {
        execFile(gstInspect(), ['--exists', name], { timeout: 20_000 }, (err) => {
          if (!err) return resolve(true);
          // Only "exited 1" means absent. No gst-inspect, EMFILE, a timeout...: inconclusive, let
          // gst-launch report, and ask again next time (never cache a transient failure as "missing").
          if ((err as unknown as { code?: unknown }).code === 1) return resolve(false);
          elementCache.delete(name);
          resolve(true);
        });
      } catch {
        elementCache.delete(name);
        resolve(true);
      }
    });
    elementCache.set(name, p);
  }
  return p;
}

export class GstLaunchSource implements Source {
  async missingElements(elements: readonly string[]): Promise<string[]> {
    const present = await Promise.all(elements.map(elementExists));
    return elements.filter((_, i) => !present[i]);
  }

  run(pipeline: PipelineDescription, opts: SourceRunOptions): Observable<SourceEvent> {
    return new Observable<SourceEvent>((subscriber) => {
      if (isShuttingDown()) {
        subscriber.next({
          type: 'ended',
          reason: { kind: 'error', message: 'process is shutting down', hint: undefined },
          exit: { code: null, signal: null, stderr: [] },
        });
        subscriber.complete();
        return;
      }
      const plan = launchPlan(pipeline);
      const command = plan.stdin === undefined ? plan.command : `${plan.command} (GStreamer launcher)`;
      if (plan.stdin !== undefined && !existsSync(LAUNCHER_SCRIPT)) {
        // An incomplete install (a build without its assets): Python would only say "can't open
        // file" with exit 2, which reads like a GStreamer crash.
        subscriber.next({ type: 'ended', reason: launcherMissing(LAUNCHER_SCRIPT), exit: { code: null, signal: null, stderr: [] } });
        subscriber.complete();
        return;
      }
      // Frames come through FIFOs read into one reused buffer (frame-pipe.ts: no fresh 64 KB
      // Buffer per read); 'pipe' where no FIFO can be made.
      const framePipe = openFramePipe();
      const viewPipe = pipeline.detectView ? openFramePipe() : undefined;
      const stdio: ('ignore' | 'pipe' | number)[] = [...plan.stdio];
      if (framePipe) stdio[1] = framePipe.writeFd;
      if (viewPipe) stdio[DETECT_VIEW_FD] = viewPipe.writeFd;
      let child: ChildProcess;
      try {
        child = spawnOwned(plan.command, plan.args, { stdio, env: plan.env });
      } catch (e) {
        framePipe?.destroy();
        viewPipe?.destroy();
        // spawn throws synchronously for some errors (E2BIG: a huge URL; ENOMEM): a camera.down,
        // never an exception into the frame chain.
        subscriber.next({ type: 'ended', reason: classifySpawnError(spawnErrorCode(e), command), exit: { code: null, signal: null, stderr: [] } });
        subscriber.complete();
        return;
      }
      // The child has its copies of the write ends: ours must go, or EOF would never come.
      framePipe?.handedOver();
      viewPipe?.handedOver();
      if (plan.stdin !== undefined && child.stdin) {
        // EPIPE when the launcher died early is reported through its exit, not here.
        child.stdin.on('error', () => {});
        child.stdin.end(plan.stdin);
      }
      // A child that reads its stdin: the caller writes to it (EPIPE shows as the child's exit).
      const input = plan.stdin === undefined && child.stdin ? child.stdin : undefined;
      input?.on('error', () => {});
      const stderrTail: string[] = [];
      let stderrRest = '';
      let protocolError: string | undefined;
      let spawnError: string | undefined;
      let readNs = 0;
      let bytesSinceFrame = 0;
      let unpairedReported = 0;

      const fail = (message: string) => {
        if (protocolError === undefined) protocolError = message;
        killOwned(child);
      };

      interface Decoded {
        readonly image: RgbImage;
        readonly pts: number | undefined;
        readonly offset: number | undefined;
        /** The pool its memory came from, and whether it was reused memory. */
        readonly pool: BufferPool;
        readonly reused: boolean;
      }
      const poison = process.env[POISON_RELEASED_FRAMES_ENV] === '1';
      // Free frame memory a slow camera (idle decoding: a frame every few seconds) does not take
      // within a second goes back to the system instead of staying resident per camera.
      const pools: BufferPool[] = [];
      const trimTimer = setInterval(() => {
        const t = performance.now();
        for (const p of pools) p.trim(t);
      }, POOL_TRIM_EVERY_MS);
      trimTimer.unref();
      const emitFrame = (full: Decoded, view: Decoded | undefined, unpaired: number) => {
        const parts: (readonly [BufferPool, Uint8Array])[] = [[full.pool, full.image.data]];
        if (view) parts.push([view.pool, view.image.data]);
        const lease = createFrameLease(parts, opts.onLeaseMisuse);
        const reused = full.reused && (view?.reused ?? true);
        subscriber.next({ type: 'frame', image: full.image, detectView: view?.image, unpaired, pts: full.pts, offset: full.offset, bytes: bytesSinceFrame, readNs, lease, reused });
        readNs = 0;
        bytesSinceFrame = 0;
      };
      const pairer = pipeline.detectView ? new FramePairer<Decoded, Decoded>() : undefined;

      // 'ended' goes out once the child has exited and every FIFO reader has seen EOF (all frames in).
      let childClosed: (() => void) | undefined;
      const openReaders = new Set<FramePipe>();
      let draining = false;
      const readerClosed = (pipe: FramePipe) => {
        openReaders.delete(pipe);
        if (openReaders.size === 0) childClosed?.();
      };

      /** One GDP stream (stdout, or fd 3 for the detector copy): its own parser and caps. */
      const readStream = (stream: NodeJS.ReadableStream | FramePipe | null | undefined, label: string, onCaps: (caps: VideoCaps) => void, onImage: (d: Decoded) => void) => {
        let caps: VideoCaps | undefined;
        // A parse-only pipeline (split runs) ends in compressed video: its buffers are access units.
        let compressed = false;
        // Padded rows (width*3 not a multiple of 4) are copied once more to pack them; the padded
        // payload lands in this reused scratch buffer instead of a fresh one per frame.
        let scratch = new Uint8Array(0);
        // The frames' memory: reused once the chain has released a frame (src/lib/frame-lease.ts).
        const pool = new BufferPool({ poison });
        pools.push(pool);
        let takenReused = false;
        const take = (size: number): Uint8Array => {
          const before = pool.stats.reused;
          const buffer = pool.take(size);
          takenReused = pool.stats.reused > before;
          return buffer;
        };
        const parser = new GdpParser({
          // gdppay always writes the header CRC: requiring it keeps a corrupt flags byte from
          // switching the check off.
          requireHeaderCrc: true,
          allocate: (size) => {
            if (caps && !isPacked(caps) && size === framePayloadSize(caps)) {
              if (scratch.length < size) scratch = new Uint8Array(size);
              return scratch;
            }
            if (caps && !compressed && size === framePayloadSize(caps)) return take(size);
            // Compressed access units and anything unexpected: handed on as they are, fresh.
            return Buffer.allocUnsafeSlow(size);
          },
        });
        const onPacket = (packet: GdpPacket) => {
          if (packet.kind === 'caps' && /^video\/x-h26[45]\b/.test(packet.caps)) {
            compressed = true;
            subscriber.next({ type: 'au-meta', payloadType: GDP_PAYLOAD_CAPS, eventNumber: undefined, structure: packet.caps });
          } else if (packet.kind === 'event') {
            // Only a split run's decode child needs them (stream-start, segment, tags); others ignore them.
            subscriber.next({ type: 'au-meta', payloadType: packet.payloadType, eventNumber: packet.eventNumber, structure: packet.structure });
          } else if (packet.kind === 'buffer' && compressed) {
            const key = (packet.flags & GDP_FLAG_DELTA_UNIT) === 0;
            subscriber.next({ type: 'au', data: packet.data, key, pts: packet.pts, dts: packet.dts, duration: packet.duration, flags: packet.flags });
          } else if (packet.kind === 'caps') {
            const parsed = parseVideoCaps(packet.caps);
            if (!isVideoCaps(parsed)) return fail(`unexpected caps from pipeline${label}: ${parsed.error}`);
            caps = parsed;
            onCaps(caps);
          } else if (packet.kind === 'buffer') {
            if (!caps) return fail(`video buffer before caps${label}`);
            // A packed payload already is pooled memory; a padded one is packed into pooled memory.
            const image = assembleRgbImage(packet.data, caps, isPacked(caps) ? undefined : take(caps.width * 3 * caps.height));
            if ('error' in image) return fail(`${image.error}${label}`);
            onImage({ image, pts: packet.pts, offset: packet.offset, pool, reused: takenReused });
          }
        };
        const onChunk = (chunk: Uint8Array) => {
          if (protocolError !== undefined || draining) return;
          const t0 = process.hrtime.bigint();
          bytesSinceFrame += chunk.length;
          try {
            // The parser copies the bytes out before returning (a FIFO chunk is a reused buffer).
            parser.push(chunk, onPacket);
          } catch (e) {
            fail(e instanceof GdpProtocolError ? `${e.message}${label}` : `frame parsing failed${label}: ${String(e)}`);
          }
          readNs += Number(process.hrtime.bigint() - t0);
        };
        if (stream && 'handedOver' in stream) {
          openReaders.add(stream);
          stream.start(onChunk, () => readerClosed(stream));
        } else {
          stream?.on('data', onChunk);
        }
      };

      readStream(
        framePipe ?? child.stdout,
        '',
        (caps) => subscriber.next({ type: 'caps', caps }),
        (full) => {
          if (!pairer) return emitFrame(full, undefined, 0);
          const pair = pairer.pushFull(pairKey(full.offset, full.pts), full);
          if (pair) emitFrame(pair.full, pair.view, pairer.unpaired - unpairedReported);
          if (pair) unpairedReported = pairer.unpaired;
        },
      );
      const viewStream = pairer && !viewPipe ? (child.stdio[DETECT_VIEW_FD] as Readable | null) : undefined;
      if (pairer) {
        readStream(
          viewPipe ?? viewStream,
          ' (detector copy)',
          (caps) => subscriber.next({ type: 'detect-caps', caps }),
          (view) => {
            const pair = pairer.pushView(pairKey(view.offset, view.pts), view);
            if (pair) emitFrame(pair.full, pair.view, pairer.unpaired - unpairedReported);
            if (pair) unpairedReported = pairer.unpaired;
          },
        );
      }

      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (text: string) => {
        const lines = (stderrRest + text).split('\n');
        stderrRest = lines.pop() ?? '';
        for (const raw of lines) {
          const line = scrubSecrets(raw, opts.secrets);
          if (!line.trim()) continue;
          stderrTail.push(line);
          if (stderrTail.length > STDERR_LINES_KEPT) stderrTail.shift();
          subscriber.next({ type: 'stderr', line });
        }
      });

      child.once('error', (err: NodeJS.ErrnoException) => {
        spawnError = err.code ?? err.message;
      });
      child.once('spawn', () => subscriber.next({ type: 'started', pid: child.pid, input }));

      // 'close': the process exited and its stdio is drained, so every frame and line is in (the
      // FIFO readers are not its stdio: they are waited for too).
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        childClosed = () => {
          childClosed = undefined;
          onClosed(code, signal);
        };
        if (openReaders.size === 0) childClosed();
      });
      const onClosed = (code: number | null, signal: NodeJS.Signals | null) => {
        clearInterval(trimTimer);
        if (stderrRest.trim()) stderrTail.push(scrubSecrets(stderrRest, opts.secrets));
        const exit: PipelineExit = { code, signal, stderr: stderrTail };
        let reason: DownReason;
        if (spawnError !== undefined) {
          reason = classifySpawnError(spawnError, command);
        } else if (code === 127 || stderrTail.some((l) => /failed to execute .*gst-launch/.test(l))) {
          reason = {
            kind: 'gstreamer-missing',
            message: `cannot run ${command}`,
            hint:
              plan.stdin === undefined
                ? 'install GStreamer: npm run setup (Debian: gstreamer1.0-tools and plugins); facegate retries every 30 s'
                : 'install GStreamer and its Python bindings (Debian: python3-gi gir1.2-gstreamer-1.0), or set FACEGATE_GST_PYTHON; facegate retries every 30 s',
          };
        } else if (protocolError !== undefined) {
          reason = { kind: 'protocol-error', message: protocolError, hint: 'the pipeline must end in raw video; check overrides' };
        } else {
          reason = classifyExit(exit, opts.source);
        }
        subscriber.next({ type: 'ended', reason, exit });
        subscriber.complete();
      };

      return () => {
        clearInterval(trimTimer);
        killOwned(child);
        // FIFO readers keep reading (and drop what comes) until the killed child's EOF closes them.
        draining = true;
        child.stdout?.removeAllListeners('data');
        child.stderr?.removeAllListeners('data');
        viewStream?.removeAllListeners('data');
        // Keep draining so a killed child never blocks on a full pipe before it dies.
        child.stdout?.resume();
        child.stderr?.resume();
        viewStream?.resume();
      };
    });
  }
}

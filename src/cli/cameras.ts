/** `facegate cameras ...`: camera tools. `cameras probe URL` connects once and reports the stream. */
import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage } from '../errors.ts';
import { redactText, redactValue } from '../redact.ts';
import { isCameraError, probeCamera, type ProbeResult, type Transport } from '../ingest/index.ts';

function transportArg(value: string): Transport {
  if (value !== 'tcp' && value !== 'udp') throw new InvalidArgumentError(`transport must be tcp or udp, got "${value}"`);
  return value;
}

function timeoutArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`timeout must be a positive number of milliseconds, got "${value}"`);
  return n;
}

function describeProbe(r: ProbeResult): string {
  // Whatever GStreamer or the camera put in the result, no credential reaches the terminal.
  return redactText(describeProbeRaw(r));
}

function describeProbeRaw(r: ProbeResult): string {
  const fps = r.caps.fps === undefined ? 'variable fps' : `${Number(r.caps.fps.toFixed(2))} fps`;
  return [
    r.url,
    `  video        ${r.caps.width}x${r.caps.height} @ ${fps} (delivered as ${r.caps.format})`,
    `  first frame  ${r.firstFrameMs} ms after start (connect + first keyframe + decode)`,
    ...(r.transport ? [`  transport    ${r.transport}`] : []),
    `  pipeline     ${r.pipeline}`,
    '',
  ].join('\n');
}

export function registerCamerasCommand(program: Command): void {
  const cameras = program.command('cameras').description('camera tools');

  cameras
    .command('probe')
    .description('connect to a camera (rtsp:// URL) or open a video file once; report its video and first-frame latency')
    .argument('<url>', 'rtsp://[user:pass@]host[:port]/path, or a video file path')
    .option('--transport <tcp|udp>', 'RTSP transport', transportArg, 'tcp' as Transport)
    .option('--timeout-ms <n>', 'give up when no frame arrived after this long', timeoutArg, 10_000)
    .option('--json', 'print JSON')
    .action(async (url: string, opts: { transport: Transport; timeoutMs: number; json?: boolean }) => {
      try {
        const result = await probeCamera(url, { transport: opts.transport, timeoutMs: opts.timeoutMs });
        process.stdout.write(opts.json ? `${JSON.stringify(redactValue({ ok: true, ...result }), null, 2)}\n` : describeProbe(result));
      } catch (e) {
        // Person-readable, never a stack trace, never the password.
        const code = isCameraError(e) ? e.code : 'error';
        const message = redactText(isCameraError(e) ? e.message : errorMessage(e));
        const hint = isCameraError(e) && e.hint ? redactText(e.hint) : undefined;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ok: false, error: { code, message, ...(hint ? { hint } : {}) } }, null, 2)}\n`);
        } else {
          process.stderr.write(`error: ${message}\n${hint ? `  fix: ${hint}\n` : ''}`);
        }
        process.exitCode = 1;
      }
    });
}

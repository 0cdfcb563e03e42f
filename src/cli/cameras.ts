/**
 * `facegate cameras ...`: camera tools. `cameras probe URL` connects once and reports the stream;
 * `cameras discover` finds ONVIF cameras (WS-Discovery) and lists their stream and snapshot URIs.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage } from '../errors.ts';
import { redactText, redactValue } from '../redact.ts';
import { isCameraError, probeCamera, type ProbeResult, type Transport } from '../ingest/index.ts';
import { discoverCameras, isOnvifError, parseProbeTarget, type DiscoveredCamera } from '../onvif/index.ts';

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

function secondsArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 120) throw new InvalidArgumentError(`timeout must be a number of seconds in (0, 120], got "${value}"`);
  return n;
}

/** A person's view of what discovery found; URIs redacted (a camera may put credentials in them). */
export function describeDiscovered(cameras: readonly DiscoveredCamera[]): string {
  const lines: string[] = [];
  for (const c of cameras) {
    lines.push(`${c.name ?? '(no name)'}${c.hardware ? ` (${c.hardware})` : ''}  ${c.xaddr ?? c.from}`);
    lines.push(`  address      ${c.address}`);
    if (c.error) lines.push(`  error        ${c.error.message}`, ...(c.error.hint ? [`  fix          ${c.error.hint}`] : []));
    for (const p of c.profiles) {
      const video = [p.encoding, p.width && p.height ? `${p.width}x${p.height}` : undefined, p.fps ? `${p.fps} fps` : undefined].filter(Boolean).join(' ');
      lines.push(`  profile      ${p.token} (${p.name})${video ? `: ${video}` : ''}`);
      if (p.streamUri) lines.push(`    stream     ${p.streamUri}`);
      if (p.snapshotUri) lines.push(`    snapshot   ${p.snapshotUri}`);
    }
    lines.push('');
  }
  return redactText(lines.join('\n'));
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

  cameras
    .command('discover')
    .description('find ONVIF cameras: a WS-Discovery probe on the local network (or straight to --host), then each camera\'s profiles with RTSP stream and snapshot URIs')
    .option('--json', 'print JSON')
    .option('--timeout <s>', 'how long to wait for answers, in seconds', secondsArg, 3)
    .option('--host <host[:port]>', 'probe this host directly (a camera on another subnet; multicast does not cross routers) instead of the multicast group')
    .option('--user <user>', 'ONVIF user (most cameras answer nothing useful without one)')
    .option('--password-env <VAR>', 'name of the environment variable holding the password (never on the command line)')
    .action(async (o: { json?: boolean; timeout: number; host?: string; user?: string; passwordEnv?: string }) => {
      const fail = (code: string, message: string, hint?: string): void => {
        if (o.json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code, message: redactText(message), ...(hint ? { hint } : {}) } }, null, 2)}\n`);
        else process.stderr.write(`error: ${redactText(message)}\n${hint ? `  fix: ${hint}\n` : ''}`);
        process.exitCode = 1;
      };
      let password: string | undefined;
      if (o.passwordEnv !== undefined) {
        password = process.env[o.passwordEnv];
        if (password === undefined) return fail('BAD_ARGUMENT', `the environment variable ${o.passwordEnv} is not set`, `export ${o.passwordEnv}=... before running, or leave --password-env out`);
      }
      if ((o.user === undefined) !== (password === undefined)) return fail('BAD_ARGUMENT', '--user and --password-env go together', 'give both, or neither');
      try {
        const targets = o.host === undefined ? [] : [parseProbeTarget(o.host)];
        const cameras = await discoverCameras({ timeoutMs: o.timeout * 1000, targets, credentials: o.user !== undefined && password !== undefined ? { user: o.user, password } : undefined });
        if (o.json) process.stdout.write(`${JSON.stringify(redactValue({ ok: true, cameras }), null, 2)}\n`);
        else if (cameras.length > 0) process.stdout.write(describeDiscovered(cameras));
        if (cameras.length === 0) {
          if (!o.json) process.stderr.write(`no ONVIF camera answered within ${o.timeout} s\n  fix: ${o.host ? 'check the host and that ONVIF discovery is on in the camera' : 'multicast reaches only this network segment: give the camera with --host'}\n`);
          process.exitCode = 1;
        }
      } catch (e) {
        if (!isOnvifError(e)) throw e;
        fail(e.code, e.message, e.hint);
      }
    });
}

/**
 * Why did a pipeline end? Classifies gst-launch's exit and stderr into a DownReason. Pure.
 * Also the credential scrubbing that every stderr line goes through before anything sees it.
 */
import { redactText, redactUrl } from '../redact.ts';
import type { DownReason, SourceConfig } from './types.ts';

export interface PipelineExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** Last stderr lines, already scrubbed. */
  readonly stderr: readonly string[];
}

export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = redactText(text);
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

/**
 * Why spawning the pipeline process failed, from Node's errno code. Running out of descriptors,
 * processes or memory is transient (retried with backoff); a missing or non-executable binary
 * is retried slowly; E2BIG means the pipeline is too long for a command line.
 */
export function classifySpawnError(code: string, command: string): DownReason {
  switch (code) {
    case 'ENOENT':
      return { kind: 'gstreamer-missing', message: `cannot run ${command}: not found (ENOENT)`, hint: 'install GStreamer: npm run setup (Debian: gstreamer1.0-tools and plugins); facegate retries every 30 s' };
    case 'EACCES':
    case 'EPERM':
      return { kind: 'gstreamer-missing', message: `cannot run ${command}: permission denied (${code})`, hint: `make ${command} executable for the facegate user; facegate retries every 30 s` };
    case 'EMFILE':
      return { kind: 'out-of-resources', message: `cannot start GStreamer: too many open files in this process (EMFILE)`, hint: 'facegate retries with backoff; raise the open-file limit (ulimit -n, systemd LimitNOFILE) or find what holds descriptors (idle connections?)' };
    case 'ENFILE':
      return { kind: 'out-of-resources', message: `cannot start GStreamer: too many open files on the system (ENFILE)`, hint: 'facegate retries with backoff; raise fs.file-max or find the process holding descriptors' };
    case 'EAGAIN':
      return { kind: 'out-of-resources', message: `cannot start GStreamer: process limit reached (EAGAIN)`, hint: 'facegate retries with backoff; raise the process limit (ulimit -u, systemd TasksMax)' };
    case 'ENOMEM':
      return { kind: 'out-of-resources', message: `cannot start GStreamer: out of memory (ENOMEM)`, hint: 'facegate retries with backoff; free memory or run fewer cameras on this machine' };
    case 'E2BIG':
      return { kind: 'spawn-failed', message: `cannot start GStreamer: the pipeline is too long for a command line (E2BIG)`, hint: 'shorten the camera URL or pipeline override (each argument must stay under 128 KiB)' };
    default:
      return { kind: 'spawn-failed', message: `cannot start ${command} (${code})`, hint: 'facegate retries with backoff; see the logs' };
  }
}

/** errno code of a thrown spawn error, or a short description when there is none. */
export function spawnErrorCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code) return code;
  return e instanceof Error ? redactText(e.message).slice(0, 200) : 'unknown error';
}

function sourceName(source: SourceConfig): string {
  switch (source.kind) {
    case 'rtsp':
      return redactUrl(source.url);
    case 'file':
      return source.path;
    case 'test':
      return 'videotestsrc';
    case 'pipeline':
      return 'pipeline override';
  }
}

/** `ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Not found` -> `Not found`; plus the detail line. */
function firstError(stderr: readonly string[]): { text: string; detail: string | undefined } | undefined {
  for (let i = 0; i < stderr.length; i++) {
    const m = /^ERROR: from element \S+: (.*)$/.exec(stderr[i]) ?? /^ERROR: (.*)$/.exec(stderr[i]);
    if (!m) continue;
    let detail: string | undefined;
    // gst-launch prints: "Additional debug info:", "<file>(<line>): <func> (): <element path>:", "<detail>"
    for (let j = i + 1; j < Math.min(stderr.length, i + 5); j++) {
      if (/^ERROR:/.test(stderr[j])) break;
      if (/^(Additional debug info:|.*\(\d+\): .*\(\): .*:$)/.test(stderr[j])) continue;
      if (stderr[j].trim()) {
        detail = stderr[j].trim();
        break;
      }
    }
    const text = m[1].trim();
    return { text, detail };
  }
  return undefined;
}

/**
 * rtspsrc's warning when the TCP connection ends without an RTSP teardown (server killed, reset).
 * gst-launch prints it through GST_DEBUG=rtspsrc:2 (source.ts sets that), the stdin launcher as
 * a bus WARNING.
 */
const CONNECTION_LOST = /server closed the connection|Connection reset|Could not read from resource/i;

function connectionLost(name: string): DownReason {
  return { kind: 'connection-lost', message: `${name}: connection lost (the server closed or reset the connection)`, hint: 'the camera went away (power, network, restart); facegate reconnects' };
}

/**
 * Classify a pipeline that exited on its own. `live`: EOS on a live source is a lost camera,
 * on a file it is the end.
 */
export function classifyExit(exit: PipelineExit, source: SourceConfig): DownReason {
  const all = exit.stderr.join('\n');
  const name = sourceName(source);
  const missing = /no element "([^"]+)"/.exec(all);
  if (missing) {
    return {
      kind: 'missing-element',
      message: `no element "${missing[1]}": GStreamer cannot build this pipeline`,
      hint: `install the GStreamer plugin that provides ${missing[1]} (gst-inspect-1.0 ${missing[1]}), or use decoder preset "cpu"`,
    };
  }
  const erroneous = /erroneous pipeline: (.*)/.exec(all);
  if (erroneous) {
    return { kind: 'bad-pipeline', message: `invalid pipeline: ${erroneous[1]}`, hint: 'check the pipeline/decoder override syntax (gst-launch-1.0 syntax)' };
  }
  const err = firstError(exit.stderr);
  const what = err ? (err.detail ? `${err.text} (${err.detail})` : err.text) : undefined;
  if (err) {
    if (/\b401\b|Unauthorized/i.test(all)) {
      return { kind: 'unauthorized', message: `${name}: authentication failed (401 Unauthorized)`, hint: 'check the user name and password in the camera URL' };
    }
    if (/\b404\b|Not found|Resource not found/i.test(all)) {
      return source.kind === 'file'
        ? { kind: 'not-found', message: `${name}: file not found`, hint: 'check the file path' }
        : { kind: 'not-found', message: `${name}: stream not found (404)`, hint: 'check the stream path in the URL (camera docs list it, e.g. /stream1)' };
    }
    if (/Failed to connect/i.test(all)) {
      return { kind: 'connect-failed', message: `${name}: could not connect`, hint: 'check the host, port and that the camera is powered and reachable' };
    }
    if (/reason not-linked/i.test(all)) {
      const codec = source.kind === 'rtsp' ? source.codec ?? 'h264' : source.kind === 'file' ? source.codec ?? 'auto' : 'auto';
      return {
        kind: 'no-video',
        message: `${name}: no ${codec === 'auto' ? '' : codec.toUpperCase() + ' '}video track`,
        hint: codec === 'auto' ? 'the stream carries no decodable video' : `if the stream is not ${codec.toUpperCase()}, set codec to ${codec === 'h264' ? 'h265' : 'h264'} (or auto with the cpu decoder)`,
      };
    }
    if (/not-negotiated/i.test(all)) {
      return { kind: 'not-negotiated', message: `${name}: formats could not be negotiated: ${what}`, hint: 'check codec and decoder settings, or the output size' };
    }
    if (/Could not receive any UDP packets|timeout/i.test(all)) {
      return { kind: 'unreachable', message: `${name}: no data received (${what})`, hint: 'UDP may be blocked by a firewall/NAT: try transport tcp' };
    }
    // A reset read on the interleaved TCP connection (server killed with data in flight) is an
    // ERROR, not the warning a clean close gives: the same lost camera, reconnected the same way.
    if (source.kind === 'rtsp' && /Could not receive message/i.test(all)) {
      return connectionLost(name);
    }
    return { kind: 'error', message: `${name}: ${what}`, hint: undefined };
  }
  if (exit.signal) {
    return { kind: 'crashed', message: `${name}: GStreamer died with ${exit.signal}`, hint: 'see the logs; run the pipeline by hand with gst-launch-1.0 to reproduce' };
  }
  if (exit.code === 0 && source.kind === 'rtsp' && CONNECTION_LOST.test(all)) {
    return connectionLost(name);
  }
  if (exit.code === 0) {
    return source.kind === 'rtsp'
      ? { kind: 'eos', message: `${name}: the server ended the stream (EOS)`, hint: 'the camera closed the session or restarted; facegate reconnects' }
      : { kind: 'eos', message: `${name}: stream ended (EOS)`, hint: undefined };
  }
  // No ERROR line: the process's own last words (a launcher that could not start, a crash
  // message) are the only cause anyone will see, so they go into the reason itself.
  const last = exit.stderr.map((l) => l.trim()).filter((l) => l !== '').at(-1);
  return {
    kind: 'crashed',
    message: `${name}: GStreamer exited with code ${exit.code}${last === undefined ? '' : `: ${last.length > 300 ? `${last.slice(0, 300)}...` : last}`}`,
    hint: 'see the logs; run the pipeline by hand with gst-launch-1.0 to reproduce',
  };
}

/** Refine "could not connect" by what a plain TCP connect said (errno code from Node). */
export function refineConnectFailure(reason: DownReason, tcpError: string | undefined, hostPort: string): DownReason {
  if (reason.kind !== 'connect-failed') return reason;
  switch (tcpError) {
    case 'ECONNREFUSED':
      return { kind: 'refused', message: `connection refused by ${hostPort}`, hint: 'nothing listens there: check the port (RTSP default 554) and that the camera/RTSP service is running' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { kind: 'unresolvable', message: `host of ${hostPort} not found (DNS)`, hint: 'check the host name, or use the camera IP address' };
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'TIMEOUT':
      return { kind: 'unreachable', message: `${hostPort} is unreachable (${tcpError})`, hint: 'check network, VLAN and firewall between facegate and the camera' };
    default:
      return reason;
  }
}

/** host:port an rtsp URL connects to (default port 554), without credentials. */
export function rtspHostPort(url: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'rtsps:' ? 322 : 554;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port };
  } catch {
    return undefined;
  }
}

/**
 * Why did a pipeline end? Classifies gst-launch's exit and stderr into a DownReason. Pure.
 * Also the credential scrubbing that every stderr line goes through before anything sees it.
 */
import { redactUrl } from '../log.ts';
import type { DownReason, SourceConfig } from './types.ts';

export interface PipelineExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** Last stderr lines, already scrubbed. */
  readonly stderr: readonly string[];
}

/** user and password of a URL, decoded and raw, to scrub from any text GStreamer writes. */
export function urlSecrets(url: string): string[] {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]*)@/i.exec(url);
  if (!m) return [];
  const out = new Set<string>();
  const [user, pass] = [m[1].split(':')[0], m[1].split(':').slice(1).join(':')];
  for (const raw of [m[1], pass, user]) {
    if (!raw) continue;
    out.add(raw);
    try {
      out.add(decodeURIComponent(raw));
    } catch {
      // not percent-encoded: the raw form is enough
    }
  }
  // Longest first so "user:pass" goes before "user"; very short user names would shred
  // unrelated words, so only the password is scrubbed when it stands alone.
  return [...out].filter((s) => s.length >= 3 || s === pass).sort((a, b) => b.length - a.length);
}

export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = redactUrl(text);
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
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
    return { kind: 'error', message: `${name}: ${what}`, hint: undefined };
  }
  if (exit.signal) {
    return { kind: 'crashed', message: `${name}: GStreamer died with ${exit.signal}`, hint: 'see the logs; run the pipeline by hand with gst-launch-1.0 to reproduce' };
  }
  if (exit.code === 0) {
    return source.kind === 'rtsp'
      ? { kind: 'eos', message: `${name}: the server ended the stream (EOS)`, hint: 'the camera closed the session or restarted; facegate reconnects' }
      : { kind: 'eos', message: `${name}: stream ended (EOS)`, hint: undefined };
  }
  return { kind: 'crashed', message: `${name}: GStreamer exited with code ${exit.code}`, hint: 'see the logs; run the pipeline by hand with gst-launch-1.0 to reproduce' };
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

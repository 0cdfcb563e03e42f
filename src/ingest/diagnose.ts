/** I/O side of failure classification: GStreamer says "Failed to connect"; a TCP connect says why. */
import { connect } from 'node:net';
import { refineConnectFailure, rtspHostPort } from './failure.ts';
import type { DownReason, SourceConfig } from './types.ts';

function tcpError(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (code: string | undefined) => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(code);
    };
    socket.setTimeout(timeoutMs, () => done('TIMEOUT'));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? 'ERROR'));
  });
}

/** Turn `connect-failed` into refused / unresolvable / unreachable where a TCP connect can tell. */
export async function diagnoseDown(reason: DownReason, source: SourceConfig, timeoutMs = 2000): Promise<DownReason> {
  if (reason.kind !== 'connect-failed' || source.kind !== 'rtsp') return reason;
  const hp = rtspHostPort(source.url);
  if (!hp) return reason;
  const code = await tcpError(hp.host, hp.port, timeoutMs);
  return refineConnectFailure(reason, code, `${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port}`);
}

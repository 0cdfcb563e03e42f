/**
 * The API port, checked before anything else starts: a second facegate on a busy port must fail at
 * once with one clear line, not after loading its models and starting its cameras.
 */
import { createServer } from 'node:net';
import { FacegateError } from '../errors.ts';

interface PortOptions {
  readonly bind: string;
  readonly port: number;
}

const where = (o: PortOptions): string => `${o.bind.includes(':') ? `[${o.bind}]` : o.bind}:${o.port}`;

/** The listen error as a FacegateError with the fix, or undefined when it is not about the port. */
export function portError(e: unknown, o: PortOptions): FacegateError | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new FacegateError('PORT_UNAVAILABLE', `cannot listen on ${where(o)}: the port is in use (EADDRINUSE)`, {
      context: { bind: o.bind, port: o.port },
      hint: `another program (or another facegate) holds it: stop it, or set server.port (or --port) to a free port`,
      cause: e,
    });
  }
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return new FacegateError('PORT_UNAVAILABLE', `cannot listen on ${where(o)} (${code})`, {
      context: { bind: o.bind, port: o.port },
      hint: code === 'EACCES' ? 'ports below 1024 need privileges: use a port of 1024 or more' : `server.bind ${o.bind} is not an address of this machine: use 127.0.0.1 or one of its addresses`,
      cause: e,
    });
  }
  return undefined;
}

/** Resolves when the port can be bound now (it is released again at once); port 0 always can. */
export async function assertPortFree(o: PortOptions): Promise<void> {
  if (o.port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e) => reject(portError(e, o) ?? e));
    probe.listen({ port: o.port, host: o.bind, exclusive: true }, () => probe.close(() => resolve()));
  });
}

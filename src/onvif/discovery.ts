/**
 * WS-Discovery over UDP: one Probe sent by multicast (239.255.255.250:3702, the local network
 * segment only: routers do not forward it) and/or straight to hosts (a directed probe, for a camera
 * on another subnet), answers collected until the timeout, deduplicated by the device's address.
 */
import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { OnvifError } from './errors.ts';
import { DISCOVERY_ADDRESS, DISCOVERY_PORT, parseProbeMatches, probeMessage, type ProbeMatch } from './soap.ts';

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
}

export interface ProbeOptions {
  /** How long to wait for answers (ms). */
  readonly timeoutMs: number;
  /** Send the probe to the multicast group. */
  readonly multicast: boolean;
  /** Also (or only) send it to these hosts. */
  readonly targets?: readonly ProbeTarget[];
  /** Local address to send the multicast probe from (default: the system's choice). */
  readonly multicastInterface?: string;
  /** Aborting ends the wait early with what has arrived. */
  readonly signal?: AbortSignal;
}

export interface ProbeAnswer extends ProbeMatch {
  /** Who answered (address:port). */
  readonly from: string;
}

/** `host`, `host:port` or `[v6]:port`, default port 3702. */
export function parseProbeTarget(text: string): ProbeTarget {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const m = v6 ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) throw new OnvifError('ONVIF_DISCOVERY_FAILED', `not a host or host:port: '${text}'`, { hint: 'for example 192.0.2.10 or 192.0.2.10:3702' });
  const port = m[2] === undefined ? DISCOVERY_PORT : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new OnvifError('ONVIF_DISCOVERY_FAILED', `bad port in '${text}'`, { hint: 'a port is 1-65535' });
  return { host: m[1], port };
}

/** Probe and collect the answers to this probe (by RelatesTo), one per device. */
export async function probeDevices(opts: ProbeOptions): Promise<ProbeAnswer[]> {
  const messageId = `uuid:${randomUUID()}`;
  const message = Buffer.from(probeMessage(messageId), 'utf8');
  const found = new Map<string, ProbeAnswer>();
  const socket: Socket = createSocket({ type: 'udp4', reuseAddr: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('message', (msg, rinfo) => {
      let matches: ProbeMatch[];
      try {
        matches = parseProbeMatches(msg.toString('utf8'));
      } catch {
        return; // not XML: some other service on the port
      }
      for (const m of matches) {
        if (m.relatesTo !== undefined && m.relatesTo !== messageId) continue;
        if (!found.has(m.address)) found.set(m.address, { ...m, from: `${rinfo.address}:${rinfo.port}` });
      }
    });
    socket.on('error', () => undefined); // an ICMP unreachable from a directed probe: keep waiting
    const send = (port: number, host: string): Promise<void> =>
      new Promise((resolve, reject) => socket.send(message, port, host, (err) => (err ? reject(err) : resolve())));
    try {
      if (opts.multicast) {
        if (opts.multicastInterface) socket.setMulticastInterface(opts.multicastInterface);
        socket.setMulticastTTL(1);
        await send(DISCOVERY_PORT, DISCOVERY_ADDRESS);
      }
      for (const t of opts.targets ?? []) await send(t.port, t.host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      throw new OnvifError('ONVIF_DISCOVERY_FAILED', `the discovery probe could not be sent (${code})`, {
        cause: e,
        hint: code === 'ENETUNREACH' || code === 'EHOSTUNREACH' ? 'no route for multicast: give the camera with --host, or add a multicast route' : 'check the host name and that UDP is allowed',
      });
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, opts.timeoutMs);
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return [...found.values()];
  } finally {
    socket.close();
  }
}

/** Shared bits of the fleet tests: read a whole JetStream stream back, wait for a condition. */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { NatsServer } from './nats.ts';

export { sleep, until } from '../../src/lib/time.ts';

export function natsClient(s: NatsServer): Promise<NatsConnection> {
  return connect({ servers: s.url, user: s.user.user, pass: s.user.pass });
}

export interface StoredMsg {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string | undefined;
  readonly node: string | undefined;
  readonly body: { id: number; type: string };
}

/** Every message of a stream, in stream order (an ordered consumer from the start). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMsg[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const total = info.state.messages;
  const out: StoredMsg[] = [];
  if (total === 0) return out;
  const c = await jetstream(nc).consumers.get(stream);
  while (out.length < total) {
    const batch = await c.fetch({ max_messages: Math.min(1000, total - out.length), expires: 2000 });
    let n = 0;
    for await (const m of batch) {
      n++;
      out.push({ seq: m.seq, subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), node: m.headers?.get('Facegate-Node'), body: m.json<{ id: number; type: string }>() });
    }
    if (n === 0) break;
  }
  return out;
}

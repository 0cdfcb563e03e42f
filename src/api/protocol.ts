import { z } from 'zod';
import { eventFilterSchema } from '../events/index.ts';
import { describeBadText, findBadText } from '../lib/text.ts';

/**
 * WebSocket protocol v1 at /v1/events. Client -> server messages are JSON, size-limited and
 * validated here; server -> client messages are typed below. Pure: no sockets.
 */
export const PROTOCOL_VERSION = 1;

export const subscribeSchema = z.strictObject({
  type: z.literal('subscribe'),
  /** Resume after this event id: everything logged after it is replayed, then live events. */
  since: z.number().int().min(0).optional(),
  /** The event filter's own schema (src/events/filter.ts): what is accepted here, the bus and the log can run. */
  filter: eventFilterSchema.optional(),
});

export const clientMessageSchema = z.discriminatedUnion('type', [subscribeSchema, z.strictObject({ type: z.literal('ping'), nonce: z.string().max(100).optional() })]);

export type SubscribeMessage = z.infer<typeof subscribeSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type EventFilter = NonNullable<SubscribeMessage['filter']>;

/** Server messages. `event` carries the event envelope as logged (src/events/schema.v1.json). */
export const serverMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('hello'), v: z.literal(1), role: z.string(), lastId: z.number().int().min(0) }).describe('first message after the upgrade: protocol version, your role, the newest event id'),
  z.strictObject({ type: z.literal('subscribed'), since: z.number().int().min(0), filter: subscribeSchema.shape.filter.unwrap().optional() }).describe('the subscription in force; replay after `since` follows, then live events'),
  z.strictObject({ type: z.literal('event'), event: z.looseObject({ id: z.number().int().positive(), type: z.string() }).describe('one event, as in the event schema (urn:facegate:schema:event:v1)') }),
  z.strictObject({ type: z.literal('pong'), nonce: z.string().optional() }),
  z.strictObject({ type: z.literal('lagged'), lastSentId: z.number().int().min(0), message: z.string() }).describe('you fell behind: the connection closes (4008); reconnect with since=lastSentId'),
  z.strictObject({ type: z.literal('error'), code: z.enum(['bad-json', 'bad-message', 'too-large', 'not-subscribed', 'internal']), message: z.string() }),
]);

export type ServerMessage = z.infer<typeof serverMessageSchema>;

export const PROTOCOL_SCHEMA_ID = 'urn:facegate:schema:ws-protocol:v1';

/** JSON Schema of both directions of /v1/events (src/api/protocol.v1.json is this text). */
export function protocolJsonSchemaText(): string {
  const doc = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: PROTOCOL_SCHEMA_ID,
    title: 'facegate WebSocket protocol, v1 (/v1/events, subprotocol facegate.v1)',
    description: 'clientMessage: what a client sends (JSON text frames); serverMessage: what the server sends.',
    $defs: {
      clientMessage: stripSchema(z.toJSONSchema(clientMessageSchema, { target: 'draft-2020-12', io: 'input' })),
      serverMessage: stripSchema(z.toJSONSchema(serverMessageSchema, { target: 'draft-2020-12', io: 'output' })),
    },
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function stripSchema(s: object): object {
  const { $schema: _drop, ...rest } = s as Record<string, unknown>;
  return rest;
}

export type ParseResult = { readonly ok: true; readonly message: ClientMessage } | { readonly ok: false; readonly error: Extract<ServerMessage, { type: 'error' }> };

/** Validate one raw client frame; every failure says what was wrong and how to send it right. */
export function parseClientMessage(raw: string | Buffer, maxBytes: number): ParseResult {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > maxBytes) return { ok: false, error: { type: 'error', code: 'too-large', message: `message of ${size} bytes exceeds the ${maxBytes}-byte limit` } };
  let doc: unknown;
  try {
    doc = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { ok: false, error: { type: 'error', code: 'bad-json', message: 'message is not valid JSON; send e.g. {"type":"subscribe","since":0}' } };
  }
  // Before the schema: a filter or nonce is echoed back and may reach the hub's PostgreSQL, which
  // refuses NUL; JSON escapes make such text from plain ASCII, so the parsed value is checked.
  const bad = findBadText(doc);
  if (bad) return { ok: false, error: { type: 'error', code: 'bad-message', message: describeBadText(bad, 'message') } };
  const parsed = clientMessageSchema.safeParse(doc);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`).join('; ');
    return { ok: false, error: { type: 'error', code: 'bad-message', message: `invalid message: ${issues}` } };
  }
  return { ok: true, message: parsed.data };
}

/**
 * A bounded per-client outbox: the pipeline never waits for a client. When a client has more
 * than `limit` messages queued (unsent by the socket), it is lagging and gets dropped with the id
 * of the last event it was actually handed, so it can resume from there.
 */
export class BoundedOutbox {
  private queued = 0;
  lastSentId = 0;

  constructor(readonly limit: number) {}

  /** Account a message about to be handed to the socket; false when the client is over its limit. */
  admit(): boolean {
    if (this.queued >= this.limit) return false;
    this.queued++;
    return true;
  }

  /** The socket flushed one message. */
  sent(eventId?: number): void {
    this.queued = Math.max(0, this.queued - 1);
    if (eventId !== undefined && eventId > this.lastSentId) this.lastSentId = eventId;
  }

  get pending(): number {
    return this.queued;
  }
}

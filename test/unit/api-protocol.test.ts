/**
 * The published WebSocket protocol schema (src/api/protocol.v1.json): in sync with the zod
 * schemas, and the messages the server really sends validate against the JSON file itself (an
 * independent validator), while malformed ones are rejected.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { protocolJsonSchemaText, serverMessageSchema, clientMessageSchema } from '../../src/api/protocol.ts';
import { validateJsonSchema } from '../helpers/events-jsonschema.ts';

const file = new URL('../../src/api/protocol.v1.json', import.meta.url);
const doc = JSON.parse(readFileSync(file, 'utf8')) as { $defs: { clientMessage: Record<string, unknown>; serverMessage: Record<string, unknown> } };

t.test('protocol.v1.json is the generated schema (run src/api/write-protocol-schema.ts after a change)', async (t) => {
  t.equal(readFileSync(file, 'utf8'), protocolJsonSchemaText());
});

t.test('server and client messages validate against the JSON file; bad ones do not', async (t) => {
  const server = [
    { type: 'hello', v: 1, role: 'viewer', lastId: 41 },
    { type: 'subscribed', since: 40, filter: { types: ['gate.*'], cameras: ['door'] } },
    { type: 'event', event: { v: 1, id: 42, type: 'gate.granted', time: '2026-11-28T10:00:00.000Z', timeMs: 1, gateId: 'front-door', data: { masked: false } } },
    { type: 'pong', nonce: 'n1' },
    { type: 'lagged', lastSentId: 42, message: 'reconnect with since=42' },
    { type: 'error', code: 'bad-json', message: 'x' },
  ];
  for (const m of server) {
    t.same(validateJsonSchema(doc.$defs.serverMessage, m), [], `server ${m.type}`);
    t.ok(serverMessageSchema.safeParse(m).success, `zod agrees: ${m.type}`);
  }
  const badServer = [{ type: 'hello', v: 2, role: 'viewer', lastId: 0 }, { type: 'lagged', lastSentId: -1, message: '' }, { type: 'event' }, { type: 'nope' }];
  for (const m of badServer) t.not(validateJsonSchema(doc.$defs.serverMessage, m).length, 0, `rejected: ${JSON.stringify(m)}`);
  const client = [{ type: 'subscribe' }, { type: 'subscribe', since: 0, filter: { gates: ['front-door'] } }, { type: 'ping', nonce: 'x' }];
  for (const m of client) {
    t.same(validateJsonSchema(doc.$defs.clientMessage, m), [], `client ${m.type}`);
    t.ok(clientMessageSchema.safeParse(m).success);
  }
  const badClient = [{ type: 'subscribe', since: -1 }, { type: 'subscribe', token: 'x' }, { type: 'ping', nonce: 5 }];
  for (const m of badClient) t.not(validateJsonSchema(doc.$defs.clientMessage, m).length, 0, `rejected: ${JSON.stringify(m)}`);
});

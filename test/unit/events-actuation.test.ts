import t from 'tap';
import { eventFromActuation } from '../../src/pipeline/index.ts';
import type { GateGranted, GateOpened } from '../../src/gates/index.ts';

const T = Date.parse('2026-11-29T10:00:00Z');
const grant: GateGranted = { type: 'gate.granted', gateId: 'front', cameraId: 'door', trackId: 'door:3', identityId: 'id_a', name: 'Ada', score: 0.6, masked: false, timeMs: T };
const manual: GateOpened = { type: 'gate.opened', gateId: 'front', action: 'open', by: 'guard', reason: 'visitor', timeMs: T };

t.test('a grant the door executed: gate.actuated routed like the grant', async (t) => {
  const e = eventFromActuation({ request: { gateId: 'front', action: 'open', event: grant }, result: { ok: true, outcomes: [{ target: 'webhook', ok: true, attempts: 1, status: 204, durationMs: 12 }] } }, T + 50);
  t.match(e, { type: 'gate.actuated', timeMs: T + 50, gateId: 'front', cameraId: 'door', trackId: 'door:3', identityId: 'id_a', data: { action: 'open', trigger: 'gate.granted', outcomes: [{ target: 'webhook', ok: true, attempts: 1, status: 204 }] } });
});

t.test('a failed actuation is its own event type with every outcome; errors are redacted', async (t) => {
  const e = eventFromActuation(
    {
      request: { gateId: 'front', action: 'open', event: manual },
      result: { ok: false, outcomes: [{ target: 'webhook', ok: false, attempts: 3, status: 503, error: 'HTTP 503 from http://admin:Hunter2@door.local/open?token=abc123', durationMs: 900 }, { target: 'command', ok: true, attempts: 1, exitCode: 0, durationMs: 5 }] },
    },
    T,
  );
  t.equal(e.type, 'gate.actuation_failed');
  t.equal((e as { cameraId?: string }).cameraId, undefined, 'a manual action has no camera');
  const text = JSON.stringify(e);
  t.notMatch(text, /Hunter2|abc123/, 'no credential survives into the event');
  t.match(e.data, { trigger: 'gate.opened', outcomes: [{ target: 'webhook', ok: false, status: 503 }, { target: 'command', ok: true, exitCode: 0 }] });
});

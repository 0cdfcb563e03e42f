import t from 'tap';
import { DOOR_WEBHOOK_WINDOW_MS, ReplayGuard, signDoorWebhook, verifyDoorWebhook } from '../../src/doors/index.ts';

const SECRET = 'secret-0123456789abcdef';
const NOW = 1_765_000_000_000;
const signed = (doc: unknown, secret = SECRET) => {
  const body = Buffer.from(JSON.stringify(doc));
  return { body, sig: signDoorWebhook(secret, body) };
};

t.test('signature: HMAC-SHA256 of the raw body, sha256=<hex>', async (t) => {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  t.equal(signDoorWebhook('Jefe', 'what do ya want for nothing?'), 'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  const { body, sig } = signed({ state: 'open', sentAtMs: NOW });
  t.match(verifyDoorWebhook('contact', SECRET, body, sig, NOW), { ok: true, reading: { kind: 'contact', open: true }, sentAtMs: NOW });
  t.match(verifyDoorWebhook('contact', 'other-secret-0123456789', body, sig, NOW), { ok: false, status: 401, code: 'DOOR_WEBHOOK_SIGNATURE' });
  t.match(verifyDoorWebhook('contact', SECRET, body, undefined, NOW), { ok: false, code: 'DOOR_WEBHOOK_SIGNATURE', message: /not signed/ });
  t.match(verifyDoorWebhook('contact', SECRET, body, sig.slice(0, -1), NOW), { ok: false, code: 'DOOR_WEBHOOK_SIGNATURE' }, 'a shorter signature');
  const tampered = Buffer.from(body.toString().replace('open', 'shut'));
  t.match(verifyDoorWebhook('contact', SECRET, tampered, sig, NOW), { ok: false, code: 'DOOR_WEBHOOK_SIGNATURE' }, 'the body changed under the signature');
});

t.test('time: inside the window either way, else stale', async (t) => {
  for (const offset of [0, DOOR_WEBHOOK_WINDOW_MS, -DOOR_WEBHOOK_WINDOW_MS]) {
    const { body, sig } = signed({ press: true, sentAtMs: NOW - offset });
    t.match(verifyDoorWebhook('rex', SECRET, body, sig, NOW), { ok: true, reading: { kind: 'rex' } }, `offset ${offset}`);
  }
  for (const offset of [DOOR_WEBHOOK_WINDOW_MS + 1, -DOOR_WEBHOOK_WINDOW_MS - 1]) {
    const { body, sig } = signed({ press: true, sentAtMs: NOW - offset });
    t.match(verifyDoorWebhook('rex', SECRET, body, sig, NOW), { ok: false, status: 401, code: 'DOOR_WEBHOOK_STALE' }, `offset ${offset}`);
  }
  const { body, sig } = signed({ press: true });
  t.match(verifyDoorWebhook('rex', SECRET, body, sig, NOW), { ok: false, status: 400, message: /sentAtMs/ });
});

t.test('readings: contact open/closed, rex press; anything else 400', async (t) => {
  const v = (input: 'contact' | 'rex', doc: unknown) => {
    const { body, sig } = signed(doc);
    return verifyDoorWebhook(input, SECRET, body, sig, NOW);
  };
  t.match(v('contact', { state: 'closed', sentAtMs: NOW }), { ok: true, reading: { kind: 'contact', open: false } });
  t.match(v('contact', { state: 'ajar', sentAtMs: NOW }), { ok: false, status: 400, code: 'DOOR_WEBHOOK_BODY' });
  t.match(v('contact', { press: true, sentAtMs: NOW }), { ok: false, status: 400 });
  t.match(v('rex', { press: 'yes', sentAtMs: NOW }), { ok: false, status: 400, message: /press must be true/ });
  const raw = Buffer.from('not json');
  t.match(verifyDoorWebhook('rex', SECRET, raw, signDoorWebhook(SECRET, raw), NOW), { ok: false, status: 400, message: /not JSON/ });
});

t.test('replay guard: a signature once inside the window, forgotten after it', async (t) => {
  const g = new ReplayGuard(1000, 3);
  t.ok(g.admit('a', NOW, NOW));
  t.notOk(g.admit('a', NOW, NOW + 500), 'replayed');
  t.ok(g.admit('b', NOW, NOW + 500));
  t.ok(g.admit('a', NOW, NOW + 2001), 'forgotten after twice the window (its time no longer passes anyway)');
  for (const k of ['c', 'd', 'e']) g.admit(k, NOW + 2001, NOW + 2001);
  t.ok(g.admit('a', NOW + 2001, NOW + 2001), 'bounded: the oldest entry went first');
});

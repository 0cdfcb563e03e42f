import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { from, lastValueFrom, Subject, toArray } from 'rxjs';
import t from 'tap';
import {
  emptyGateStats,
  gateDecisions,
  GateError,
  parseGates,
  verifySignature,
  type ActuationRecord,
  type ActuationRequest,
  type ActuationResult,
  type Actuator,
  type GateEvent,
  type GateInput,
  type GateState,
  type ManualRequest,
  type RecognitionInput,
} from '../../src/gates/index.ts';

const T0 = Date.parse('2026-01-05T10:00:00Z');

const gates = parseGates([
  { id: 'in', name: 'Front door in', cameras: ['camIn'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 2, m: 3 }, cooldownMs: 1000, antiPassback: { pairedGateId: 'out', direction: 'entry', windowMs: 3_600_000 } },
  { id: 'out', cameras: ['camOut'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, antiPassback: { pairedGateId: 'in', direction: 'exit', windowMs: 3_600_000 } },
  { id: 'lab', cameras: ['camIn'], liveness: { required: false }, allow: { identities: ['bob-id'] }, confirmation: { n: 1, m: 1 } },
]);

const rec = (over: Partial<RecognitionInput>): RecognitionInput => ({ type: 'face.recognized', cameraId: 'camIn', trackId: 'camIn:1', identityId: 'alice-id', name: 'Alice', groups: ['staff'], score: 0.7, masked: false, liveness: 0.9, timeMs: T0, ...over });

class FakeActuator implements Actuator {
  readonly requests: ActuationRequest[] = [];
  readonly signals: AbortSignal[] = [];
  constructor(
    private readonly delayMs = 0,
    private readonly ok = true,
  ) {}
  actuate(request: ActuationRequest, signal?: AbortSignal): Promise<ActuationResult> {
    this.requests.push(request);
    if (signal) this.signals.push(signal);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ok: this.ok, outcomes: [{ target: 'command', ok: this.ok, attempts: 1, durationMs: this.delayMs }] }), this.delayMs);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve({ ok: false, outcomes: [{ target: 'command', ok: false, attempts: 1, error: 'aborted', durationMs: 0 }] });
      });
    });
  }
}

const summary = (events: readonly GateEvent[]): string[] => events.map((e) => (e.type === 'gate.opened' ? `${e.gateId}:opened:${e.action}` : `${e.gateId}:${e.type === 'gate.granted' ? 'granted' : `denied:${e.reason}`}:${e.trackId}`));

t.test('recognitions and track ends become gate events; grants are actuated', async (t) => {
  const actuator = new FakeActuator();
  const records: ActuationRecord[] = [];
  const states: GateState[] = [];
  const stats = emptyGateStats();
  const inputs: GateInput[] = [
    rec({ trackId: 'camIn:1' }),
    rec({ trackId: 'camIn:1', timeMs: T0 + 100 }), // confirms alice at 'in'; 'lab' denies (n=1) already on the first
    rec({ trackId: 'camIn:1', timeMs: T0 + 200 }),
    rec({ trackId: 'camIn:2', identityId: 'x', name: 'X', groups: [], score: 0.3, timeMs: T0 + 300 }),
    { type: 'track.updated', cameraId: 'camIn', trackId: 'camIn:2', timeMs: T0 + 350 },
    { type: 'track.ended', cameraId: 'camIn', trackId: 'camIn:2', timeMs: T0 + 400 }, // pending at 'in' -> low-confidence
    rec({ cameraId: 'camOut', trackId: 'camOut:1', timeMs: T0 + 500 }),
    rec({ cameraId: 'camElsewhere', trackId: 'camElsewhere:1', timeMs: T0 + 600 }),
  ];
  const events = await lastValueFrom(from(inputs).pipe(gateDecisions(gates, { actuatorFor: () => actuator, onActuation: (r) => records.push(r), onState: (s) => states.push(s), stats }), toArray()));
  t.same(summary(events), ['lab:denied:not-allowed:camIn:1', 'in:granted:camIn:1', 'lab:denied:not-allowed:camIn:2', 'in:denied:low-confidence:camIn:2', 'out:granted:camOut:1']);
  t.match(events[1], { type: 'gate.granted', gateId: 'in', cameraId: 'camIn', trackId: 'camIn:1', identityId: 'alice-id', name: 'Alice', score: 0.7, masked: false, timeMs: T0 + 100 });
  t.same(
    actuator.requests.map((r) => `${r.gateId}:${r.action}:${r.event.type}`),
    ['in:open:gate.granted', 'out:open:gate.granted'],
    'only grants actuate',
  );
  t.equal(records.length, 2, 'completion waits for actuation outcomes');
  t.ok(records.every((r) => r.result.ok));
  t.match(stats, { recognitions: 6, granted: 2, denied: 3, actuations: 2, actuationFailures: 0 });
  const last = states.at(-1)!;
  t.equal(last.passages.size, 1, 'entry then exit: one last passage for alice in the pair');
  t.equal([...last.passages.values()][0].direction, 'exit');
});

t.test('manual requests: audited gate.opened, actuated; invalid ones reported, stream goes on', async (t) => {
  const actuator = new FakeActuator();
  const manual = new Subject<ManualRequest>();
  const source = new Subject<GateInput>();
  const errors: unknown[] = [];
  const events: GateEvent[] = [];
  const stats = emptyGateStats();
  const done = lastValueFrom(source.pipe(gateDecisions(gates, { actuatorFor: () => actuator, manual, onError: (e) => errors.push(e), stats }), toArray()));
  const sub = source.subscribe(); // keep a reference so the subject is hot
  manual.next({ gateId: 'in', action: 'hold-open', by: 'guard1', reason: 'fire drill', durationMs: 60_000, timeMs: T0 });
  manual.next({ gateId: 'nope', action: 'open', by: 'guard1', reason: 'x', timeMs: T0 });
  manual.next({ gateId: 'in', action: 'open', by: '', reason: 'x', timeMs: T0 });
  source.next(rec({ cameraId: 'camOut', trackId: 'camOut:9', timeMs: T0 + 10 }));
  manual.next({ gateId: 'in', action: 'close', by: 'guard1', reason: 'drill over', timeMs: T0 + 20 });
  source.complete();
  events.push(...(await done));
  sub.unsubscribe();
  t.same(summary(events), ['in:opened:hold-open', 'out:granted:camOut:9', 'in:opened:close']);
  t.match(events[0], { type: 'gate.opened', gateId: 'in', by: 'guard1', reason: 'fire drill', durationMs: 60_000, timeMs: T0 });
  t.same(actuator.requests.map((r) => `${r.gateId}:${r.action}`), ['in:hold-open', 'out:open', 'in:close']);
  t.equal(errors.length, 2);
  t.ok(errors[0] instanceof GateError && errors[0].code === 'GATE_UNKNOWN');
  t.ok(errors[1] instanceof GateError && errors[1].code === 'GATE_ACTION_INVALID');
  t.equal(stats.errors, 2);
  t.equal(stats.manual, 2);
});

t.test('decisions are emitted before actuation settles; unsubscribing aborts actuations in flight', async (t) => {
  const actuator = new FakeActuator(10_000);
  const source = new Subject<GateInput>();
  const events: GateEvent[] = [];
  let completed = false;
  const sub = source.pipe(gateDecisions(gates, { actuatorFor: () => actuator })).subscribe({ next: (e) => events.push(e), complete: () => (completed = true) });
  source.next(rec({ cameraId: 'camOut', trackId: 'camOut:1' }));
  t.equal(events.length, 1, 'synchronous');
  source.complete();
  t.notOk(completed, 'waits for the actuation in flight');
  t.notOk(actuator.signals[0].aborted);
  sub.unsubscribe();
  t.ok(actuator.signals[0].aborted, 'aborted on unsubscribe');
});

t.test('failed actuations are counted and reported; decisions stand', async (t) => {
  const actuator = new FakeActuator(0, false);
  const stats = emptyGateStats();
  const records: ActuationRecord[] = [];
  const events = await lastValueFrom(from([rec({ cameraId: 'camOut', trackId: 'camOut:1' })]).pipe(gateDecisions(gates, { actuatorFor: () => actuator, stats, onActuation: (r) => records.push(r) }), toArray()));
  t.equal(events[0].type, 'gate.granted');
  t.equal(stats.actuationFailures, 1);
  t.equal(records[0].result.ok, false);
  const throwing: Actuator = { actuate: () => Promise.reject(new Error('bug')) };
  const s2 = emptyGateStats();
  await lastValueFrom(from([rec({ cameraId: 'camOut', trackId: 'camOut:1' })]).pipe(gateDecisions(gates, { actuatorFor: () => throwing, stats: s2 }), toArray()));
  t.equal(s2.actuationFailures, 1, 'a throwing actuator is a failed actuation, not a crash');
});

t.test('initial state is honoured (anti-passback survives a restart)', async (t) => {
  let saved: GateState | undefined;
  await lastValueFrom(from([rec({ trackId: 'camIn:1' }), rec({ trackId: 'camIn:1' })]).pipe(gateDecisions(gates, { actuatorFor: () => undefined, onState: (s) => (saved = s) }), toArray()));
  const again = await lastValueFrom(from([rec({ trackId: 'camIn:7', timeMs: T0 + 60_000 }), rec({ trackId: 'camIn:7', timeMs: T0 + 60_100 })]).pipe(gateDecisions(gates, { actuatorFor: () => undefined, initialState: saved }), toArray()));
  t.same(summary(again).filter((s) => s.startsWith('in:')), ['in:denied:anti-passback:camIn:7']);
});

t.test('duplicate gate ids are rejected; source errors propagate', async (t) => {
  t.throws(() => gateDecisions([gates[0], gates[0]]), { code: 'GATE_CONFIG_INVALID' });
  const source = new Subject<GateInput>();
  let err: unknown;
  source.pipe(gateDecisions(gates)).subscribe({ error: (e) => (err = e) });
  source.error(new Error('upstream'));
  t.match(err, { message: 'upstream' });
});

t.test('end to end: the default actuator from the gate config signs a webhook to a loopback server', async (t) => {
  const secret = 'operator-test-secret-0123456789';
  const bodies: { ok: boolean; body: { event: { identityId: string } } }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      bodies.push({ ok: verifySignature(secret, raw, req.headers['x-facegate-signature'] as string), body: JSON.parse(raw.toString()) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  const [door] = parseGates([{ id: 'door', cameras: ['c'], liveness: { required: false }, allow: { identities: ['alice-id'] }, confirmation: { n: 1, m: 1 }, actuation: { webhook: { url: `http://127.0.0.1:${port}/open`, secret } } }]);
  const records: ActuationRecord[] = [];
  await lastValueFrom(from([rec({ cameraId: 'c', trackId: 'c:1' })]).pipe(gateDecisions([door], { onActuation: (r) => records.push(r) }), toArray()));
  t.equal(bodies.length, 1);
  t.ok(bodies[0].ok, 'signature verifies');
  t.equal(bodies[0].body.event.identityId, 'alice-id');
  t.match(records[0].result, { ok: true, outcomes: [{ target: 'webhook', status: 200, attempts: 1 }] });
});

t.test('a re-sighting within the cooldown is no event and no actuation, only counted', async (t) => {
  const actuator = new FakeActuator();
  const stats = emptyGateStats();
  const inputs: GateInput[] = [
    rec({ trackId: 'camIn:1', timeMs: T0 }),
    rec({ trackId: 'camIn:1', timeMs: T0 + 100 }),
    // The tracker lost Alice and found her again: a new track, 300 ms after her grant.
    rec({ trackId: 'camIn:2', timeMs: T0 + 300 }),
    rec({ trackId: 'camIn:2', timeMs: T0 + 400 }),
    rec({ trackId: 'camIn:2', timeMs: T0 + 500 }),
  ];
  const out = await lastValueFrom(from(inputs).pipe(gateDecisions([gates[0]], { stats, actuatorFor: () => actuator }), toArray()));
  t.same(summary(out), ['in:granted:camIn:1'], 'one grant; the repeat is not a denial');
  t.equal(stats.cooldownRepeats, 1, 'counted once for the repeated track');
  t.equal(stats.denied, 0);
  t.equal(actuator.requests.length, 1, 'the door is opened once');
});

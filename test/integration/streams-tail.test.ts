/**
 * The tail of the pipeline as one chain over the PipelineItem union: decideGates -> publishEvents,
 * on a real EventLog/EventBus (temp SQLite), a real SnapshotStore and real gate policies. Pure in
 * the sense that no model runs: the items are what the camera chains would emit.
 */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BehaviorSubject, lastValueFrom, Subject, from, toArray, type Observable } from 'rxjs';
import t from 'tap';
import { EventBus, EventLog, EventThrottle, SnapshotStore, type Event } from '../../src/events/index.ts';
import { cameraItem, decideGates, gateInputOf, publishEvents, recognitionItem, stageErrorItem, trackItem, type PipelineItem } from '../../src/pipeline/index.ts';
import { emptyGateStats, parseGates, type GatePolicy, type GateState } from '../../src/gates/index.ts';
import type { Recognition } from '../../src/recognize/index.ts';
import type { TrackEvent, TrackView } from '../../src/track/index.ts';
import { BufferPool, createFrameLease, releaseFrame } from '../../src/lib/frame-lease.ts';
import type { Frame } from '../../src/types.ts';
import { aliceRecognition, greyFrame } from '../helpers/recognition.ts';

const T0 = Date.parse('2026-11-29T10:00:00Z');
const W = 64;
const H = 48;
const frame: Frame = greyFrame('door', T0, W, H);

const recognition = (over: Partial<Recognition> = {}): Recognition => aliceRecognition(frame, over);

const track = (type: TrackEvent['type'], trackId: string, timeMs: number): TrackEvent => {
  const view = { trackId, cameraId: 'door', state: 'confirmed', face: { box: [10, 10, 30, 34], score: 0.9, landmarks: [] }, box: [10, 10, 30, 34], hits: 3, ageFrames: 3, lostFrames: 0, firstSeenAt: T0, lastSeenAt: timeMs } as unknown as TrackView;
  if (type === 'track.ended') return { type, cameraId: 'door', trackId, timeMs, reason: 'lost', durationMs: timeMs - T0, frameCount: 3, track: view };
  return { type, cameraId: 'door', trackId, timeMs, track: view };
};

function setup(t: { teardown: (fn: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'fg-tail-'));
  const log = new EventLog(join(dir, 'events.sqlite'));
  const bus = new EventBus(log);
  const snapshots = new SnapshotStore(join(dir, 'snapshots'), { retentionMs: 86_400_000, maxFiles: 100 });
  t.teardown(() => {
    bus.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, log, bus, snapshots };
}

const door = (over: Record<string, unknown> = {}): GatePolicy[] => parseGates([{ id: 'front-door', cameras: ['door'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 5000, ...over }]);

async function runTail(items: Observable<PipelineItem>, gates$: Observable<readonly GatePolicy[]>, bus: EventBus, extra: { snapshots?: SnapshotStore; throttle?: EventThrottle; now?: () => number } = {}): Promise<Event[]> {
  return lastValueFrom(items.pipe(decideGates(gates$, { stats: emptyGateStats() }), publishEvents(bus, { snapshots: extra.snapshots, stageErrors: extra.throttle, now: extra.now }), toArray()));
}

t.test('one chain: health, tracks, recognitions and gate decisions land in the log in order', async (t) => {
  const { bus, log } = setup(t);
  const up = cameraItem({ type: 'camera.up', cameraId: 'door', at: T0 - 1000, caps: { format: 'RGB', width: W, height: H, fps: 5, stride: W * 3 }, pid: 1, firstFrameMs: 120, attempt: 1 });
  const items: PipelineItem[] = [
    up,
    trackItem(track('track.started', 'door:1', T0)),
    trackItem(track('track.updated', 'door:1', T0 + 100)),
    recognitionItem(recognition()),
    // The same decision again for the same track (another embedder run): no second face.recognized.
    recognitionItem(recognition({ timeMs: T0 + 400, changed: false })),
    trackItem(track('track.ended', 'door:1', T0 + 2000)),
  ];
  const published = await runTail(from(items), new BehaviorSubject(door()), bus);
  t.same(
    published.map((e) => e.type),
    ['camera.up', 'track.started', 'face.recognized', 'gate.granted', 'track.ended'],
    'track.updated and the unchanged recognition are not events; the grant follows its recognition',
  );
  t.same(
    log.query({ limit: 100 }).map((e) => e.id),
    published.map((e) => e.id),
    'every published event is in the log, with the same ids (log before publish)',
  );
  const granted = published.find((e) => e.type === 'gate.granted');
  t.equal(granted?.gateId, 'front-door');
  t.equal(granted?.identityId, 'alice-id');
});

t.test('a re-sighting within the cooldown is no decision at all (not a denial)', async (t) => {
  const { bus } = setup(t);
  const stats = emptyGateStats();
  const items: PipelineItem[] = [recognitionItem(recognition()), recognitionItem(recognition({ trackId: 'door:2', timeMs: T0 + 1000 }))];
  const published = await lastValueFrom(from(items).pipe(decideGates(new BehaviorSubject(door()), { stats }), publishEvents(bus), toArray()));
  t.same(
    published.map((e) => e.type),
    ['face.recognized', 'gate.granted', 'face.recognized'],
  );
  t.equal(stats.cooldownRepeats, 1, 'counted as a cooldown repeat');
  t.equal(stats.denied, 0);
});

t.test('a new gate set takes over the state: the cooldown carries across the swap', async (t) => {
  const { bus } = setup(t);
  const gates$ = new BehaviorSubject<readonly GatePolicy[]>(door());
  const items = new Subject<PipelineItem>();
  const states: GateState[] = [];
  const out: Event[] = [];
  const done = lastValueFrom(items.pipe(decideGates(gates$, { onState: (s) => states.push(s) }), publishEvents(bus), toArray()));
  items.next(recognitionItem(recognition()));
  gates$.next(door({ name: 'Front door (renamed)' }));
  items.next(recognitionItem(recognition({ trackId: 'door:2', timeMs: T0 + 1000 })));
  // A set the gate operator refuses (two gates with one id) is logged; the previous one stays.
  gates$.next([...door(), ...door()]);
  items.next(recognitionItem(recognition({ trackId: 'door:3', timeMs: T0 + 10_000 })));
  items.complete();
  out.push(...(await done));
  t.same(
    out.filter((e) => e.type.startsWith('gate.')).map((e) => `${e.type}@${e.trackId}`),
    ['gate.granted@door:1', 'gate.granted@door:3'],
    'door:2 falls in the carried-over cooldown; door:3 after it is granted by the kept gate set',
  );
  t.ok(states.length >= 2, 'state changes reported');
});

t.test('stage failures become stage.error events, one per camera and stage per window', async (t) => {
  const { bus } = setup(t);
  let now = T0;
  const fail = (stage: 'detect' | 'recognize', cameraId = 'door') => stageErrorItem({ cameraId, stage, model: 'scrfd_500m', error: new Error('rtsp://admin:hunter2@10.0.0.9/stream failed'), timeMs: now });
  const items = new Subject<PipelineItem>();
  const done = lastValueFrom(items.pipe(decideGates(new BehaviorSubject(door())), publishEvents(bus, { stageErrors: new EventThrottle(10_000), now: () => now }), toArray()));
  for (let i = 0; i < 5; i++) items.next(fail('detect'));
  items.next(fail('recognize'));
  items.next(fail('detect', 'lobby'));
  now += 10_001;
  items.next(fail('detect'));
  items.complete();
  const events = await done;
  const errors = events.filter((e) => e.type === 'stage.error').map((e) => ({ camera: e.cameraId, ...(e.data as { stage: string; suppressed: number; message: string }) }));
  t.same(
    errors.map((e) => `${e.camera}/${e.stage}/${e.suppressed}`),
    ['door/detect/0', 'door/recognize/0', 'lobby/detect/0', 'door/detect/4'],
    'the first of each key, then the next window names the 4 suppressed',
  );
  for (const e of errors) t.notMatch(e.message, /hunter2/, 'credentials are redacted from the message');
});

t.test('snapshots: the recognition event names its snapshot; a failed write never drops the event', async (t) => {
  const { bus, snapshots } = setup(t);
  const items: PipelineItem[] = [
    recognitionItem(recognition()),
    // A box outside the frame: the store refuses it; the event still goes out, without a snapshot.
    recognitionItem(recognition({ trackId: 'door:2', identityId: undefined, name: undefined, groups: undefined, type: 'face.unknown', unknownId: 'u-1', score: 0.1, box: [500, 500, 520, 530] })),
  ];
  const inFlight = new Set<Promise<void>>();
  const events = await lastValueFrom(from(items).pipe(decideGates(new BehaviorSubject<readonly GatePolicy[]>([])), publishEvents(bus, { snapshots, inFlight }), toArray()));
  t.equal(inFlight.size, 0, 'the chain completes only after its snapshot writes');
  const recognized = events.find((e) => e.type === 'face.recognized');
  const unknown = events.find((e) => e.type === 'face.unknown');
  const snapshotId = (recognized?.data as { snapshotId?: string }).snapshotId;
  t.ok(snapshotId, 'face.recognized names its snapshot');
  t.ok(snapshotId !== undefined && existsSync(snapshots.path(snapshotId, 'face')), 'the snapshot is on disk');
  t.ok(unknown, 'face.unknown published although its snapshot failed');
  t.equal((unknown?.data as { snapshotId?: string }).snapshotId, undefined);
});

t.test('snapshots of a pooled frame: publishing holds its pixels until written; a frame released too early gets no snapshot', async (t) => {
  const { bus, snapshots } = setup(t);
  const pool = new BufferPool({ poison: true });
  const pooled = (): Frame => {
    const data = pool.take(frame.data.length);
    data.set(frame.data);
    return { ...frame, data, lease: createFrameLease([[pool, data]]) };
  };
  const held = pooled();
  const early = pooled();
  releaseFrame(early);
  const items = new Subject<PipelineItem>();
  const inFlight = new Set<Promise<void>>();
  const done = lastValueFrom(items.pipe(publishEvents(bus, { snapshots, inFlight }), toArray()));
  items.next(recognitionItem(recognition({ frame: held })));
  // Recognition releases the chain's hold as soon as the item is emitted.
  releaseFrame(held);
  t.ok(held.lease?.held && inFlight.size === 1, 'the snapshot being written holds the frame');
  items.next(recognitionItem(recognition({ frame: early, trackId: 'door:3' })));
  items.complete();
  const events = await done;
  t.notOk(held.lease?.held, 'given back once written');
  // The released frame's event goes out at once; the held one's once its snapshot is written.
  const recognized = events.filter((e) => e.type === 'face.recognized').map((e) => (e.data as { snapshotId?: string }).snapshotId);
  t.equal(recognized.length, 2, 'both recognitions are published');
  t.equal(recognized[0], undefined, 'the frame released before publishing: its event without a snapshot of memory that may be another frame');
  const id = recognized[1];
  t.ok(id !== undefined && existsSync(snapshots.path(id, 'face')), 'the held frame has its snapshot');
});

t.test('actuation outcomes are items: a door controller answering 503 becomes gate.actuation_failed', async (t) => {
  const { bus } = setup(t);
  const server = createServer((_req, res) => {
    res.statusCode = 503;
    res.end('busy');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/open`;
  const gates = door({ actuation: { webhook: { url, secret: 'tail-test-secret-0123456789', retries: 0, timeoutMs: 2000 } } });
  const events = await lastValueFrom(from([recognitionItem(recognition())]).pipe(decideGates(new BehaviorSubject(gates)), publishEvents(bus), toArray()));
  t.same(
    events.map((e) => e.type),
    ['face.recognized', 'gate.granted', 'gate.actuation_failed'],
    'the chain completes after the actuation settled, and its failure is an event',
  );
  const failed = events.at(-1);
  const outcome = (failed?.data as { outcomes: { status?: number; ok: boolean }[] }).outcomes[0];
  t.equal(outcome?.status, 503);
  t.equal(outcome?.ok, false);
});

t.test('gateInputOf: only recognitions and track ends reach the gates; zones come from the caller', async (t) => {
  t.equal(gateInputOf(trackItem(track('track.started', 'door:1', T0))), undefined);
  t.equal(gateInputOf(trackItem(track('track.ended', 'door:1', T0)))?.type, 'track.ended');
  const input = gateInputOf(recognitionItem(recognition()), () => ['porch']);
  t.same(input && 'zones' in input ? input.zones : undefined, ['porch']);
  t.equal(gateInputOf(stageErrorItem({ cameraId: 'door', stage: 'detect', model: 'm', error: new Error('x'), timeMs: T0 })), undefined);
});

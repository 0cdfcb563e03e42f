/**
 * Anti-passback areas, pure (time passed in): gates naming the same `area` share the last passage
 * per person; passages of other nodes merge in (newer capture time wins, never back in time); an
 * area decision records the area state it was taken on; pruning keeps an area's passages for the
 * longest window of this box's gates in it; the gate operator takes the fleet's area inputs as an
 * Observable. Config: exactly one of pairedGateId / area, with the fix.
 */
import t from 'tap';
import { from, lastValueFrom, Subject, toArray } from 'rxjs';
import { ConfigError, parseConfigText } from '../../src/config/index.ts';
import {
  areaPassageKey,
  decide,
  EMPTY_GATE_STATE,
  emptyGateStats,
  gateDecisions,
  GateError,
  mergeExternalPassage,
  parseGates,
  pruneGateState,
  setAreaSync,
  type AreaInput,
  type ExternalPassage,
  type GateDecision,
  type GateEvent,
  type GateInput,
  type GatePolicy,
  type GateState,
  type RecognitionInput,
} from '../../src/gates/index.ts';

const T0 = Date.parse('2026-01-05T10:00:00Z');
const HOUR = 3_600_000;

function lobby(): GatePolicy[] {
  return parseGates([
    { id: 'lobby-in-1', cameras: ['c1'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 1000, antiPassback: { area: 'hq-lobby', direction: 'entry', windowMs: HOUR } },
    { id: 'lobby-in-2', cameras: ['c2'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 1000, antiPassback: { area: 'hq-lobby', direction: 'entry', windowMs: 2 * HOUR } },
    { id: 'lobby-out', cameras: ['c3'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 1000, antiPassback: { area: 'hq-lobby', direction: 'exit', windowMs: HOUR } },
  ]);
}

let trackN = 0;
const rec = (cameraId: string, timeMs: number, over: Partial<RecognitionInput> = {}): RecognitionInput => ({ type: 'face.recognized', cameraId, trackId: `${cameraId}:${++trackN}`, identityId: 'alice-id', name: 'Alice', groups: ['staff'], score: 0.8, masked: false, timeMs, ...over });
const verdict = (d: GateDecision | undefined): string => (d ? (d.type === 'gate.denied' ? `denied:${d.reason}` : 'granted') : '-');
const ext = (over: Partial<ExternalPassage> = {}): ExternalPassage => ({ area: 'hq-lobby', identityId: 'alice-id', gateId: 'b-lobby-in', nodeId: 'door-2', direction: 'entry', timeMs: T0, ...over });

t.test('gates of one area share passages on this box', async (t) => {
  const [in1, in2, out] = lobby();
  let state: GateState = EMPTY_GATE_STATE;
  const pass = (g: GatePolicy, cam: string, dt: number): string => {
    const r = decide(g, state, rec(cam, T0 + dt), T0 + dt);
    state = r.state;
    return verdict(r.decision);
  };
  t.equal(pass(in1, 'c1', 0), 'granted', 'first entry');
  t.equal(pass(in2, 'c2', 60_000), 'denied:anti-passback', 'a second entry through another gate of the area');
  t.equal(pass(out, 'c3', 120_000), 'granted', 'exit');
  t.equal(pass(in2, 'c2', 180_000), 'granted', 'entry again after the exit');
  t.equal(state.passages.size, 1, 'one last passage per area and person');
  t.match(state.passages.get(areaPassageKey('hq-lobby', 'alice-id')), { gateId: 'lobby-in-2', direction: 'entry', area: 'hq-lobby', timeMs: T0 + 180_000 });
  t.equal(pass(in1, 'c1', 180_000 + HOUR), 'granted', 'the window passed');
});

t.test('an area decision records the area state it was taken on', async (t) => {
  const [in1] = lobby();
  const local = decide(in1, EMPTY_GATE_STATE, rec('c1', T0), T0).decision;
  t.same(local?.area, { id: 'hq-lobby', direction: 'entry', state: 'local' }, 'no fleet link: local');
  const stale = setAreaSync(EMPTY_GATE_STATE, { mode: 'stale', sinceMs: T0, reason: 'NATS down' });
  t.same(decide(in1, stale, rec('c1', T0), T0).decision?.area, { id: 'hq-lobby', direction: 'entry', state: 'stale' });
  const fresh = setAreaSync(stale, { mode: 'fresh', sinceMs: T0 });
  t.equal(decide(in1, fresh, rec('c1', T0), T0).decision?.area?.state, 'fresh');
  t.equal(setAreaSync(fresh, { mode: 'fresh', sinceMs: T0 + 5 }), fresh, 'same mode: same state object');
  const pair = parseGates([
    { id: 'a', cameras: ['c1'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, antiPassback: { pairedGateId: 'b', direction: 'entry' } },
    { id: 'b', cameras: ['c2'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, antiPassback: { pairedGateId: 'a', direction: 'exit' } },
  ]);
  t.equal(decide(pair[0], EMPTY_GATE_STATE, rec('c1', T0), T0).decision?.area, undefined, 'a local pair: no area in the decision');
});

t.test('mergeExternalPassage: newer capture time wins, never back in time', async (t) => {
  const [in1] = lobby();
  const s1 = mergeExternalPassage(EMPTY_GATE_STATE, ext({ timeMs: T0 }));
  t.match(s1.passages.get(areaPassageKey('hq-lobby', 'alice-id')), { gateId: 'b-lobby-in', nodeId: 'door-2', direction: 'entry', timeMs: T0 });
  t.equal(verdict(decide(in1, s1, rec('c1', T0 + 60_000), T0 + 60_000).decision), 'denied:anti-passback', 'entered at another box: denied here');
  t.equal(mergeExternalPassage(s1, ext({ timeMs: T0 - 1, direction: 'exit' })), s1, 'an older passage changes nothing');
  t.equal(mergeExternalPassage(s1, ext({ timeMs: T0 })), s1, 'the same passage again (a replay) changes nothing');
  const s2 = mergeExternalPassage(s1, ext({ timeMs: T0 + 30_000, direction: 'exit', gateId: 'b-lobby-out' }));
  t.equal(s2.passages.get(areaPassageKey('hq-lobby', 'alice-id'))?.direction, 'exit', 'a newer exit replaces the entry');
  t.equal(verdict(decide(in1, s2, rec('c1', T0 + 60_000), T0 + 60_000).decision), 'granted', 'exited at the other box: entry granted');

  // This box's own grant coming back through the fleet changes nothing; a late older one neither.
  const granted = decide(in1, EMPTY_GATE_STATE, rec('c1', T0 + 100), T0 + 100).state;
  t.equal(mergeExternalPassage(granted, ext({ timeMs: T0 + 100, gateId: 'lobby-in-1', nodeId: 'door-1' })), granted);
  t.equal(mergeExternalPassage(granted, ext({ timeMs: T0 + 50, direction: 'exit' })), granted, 'a late exit older than the local entry is ignored');
  t.equal(mergeExternalPassage(EMPTY_GATE_STATE, ext({ timeMs: Number.NaN })), EMPTY_GATE_STATE, 'a passage without a time is ignored');
  t.equal(EMPTY_GATE_STATE.passages.size, 0, 'inputs never mutated');
});

t.test('pruning: an area lives for the longest window of its gates here; unknown areas go', async (t) => {
  const gates = lobby(); // windows 1 h, 2 h, 1 h
  let s = mergeExternalPassage(EMPTY_GATE_STATE, ext({ timeMs: T0 }));
  s = mergeExternalPassage(s, ext({ area: 'lab-floor', timeMs: T0 }));
  const p1 = pruneGateState(gates, s, T0 + 90 * 60_000);
  t.equal(p1.passages.size, 1, 'the lab area (no gate here) is dropped; the lobby passage kept at 90 min (2 h window)');
  t.ok(p1.passages.has(areaPassageKey('hq-lobby', 'alice-id')));
  t.equal(pruneGateState(gates, p1, T0 + 2 * HOUR).passages.size, 0, 'gone after the longest window');
  t.equal(pruneGateState(gates, p1, T0 + HOUR).areaSync, p1.areaSync, 'area sync kept by pruning');
});

t.test('gate operator: area inputs merge into the one state; other areas are ignored', async (t) => {
  const gates = lobby();
  const area$ = new Subject<AreaInput>();
  const inputs = new Subject<GateInput>();
  const stats = emptyGateStats();
  const states: GateState[] = [];
  const events: GateEvent[] = [];
  const done = lastValueFrom(inputs.pipe(gateDecisions(gates, { areaInputs: area$, stats, onState: (s) => states.push(s) }), toArray()));
  const sub = done.then((e) => events.push(...e));
  area$.next({ type: 'area.sync', sync: { mode: 'fresh', sinceMs: T0 } });
  area$.next({ type: 'area.passage', passage: ext({ timeMs: T0 }) });
  area$.next({ type: 'area.passage', passage: ext({ timeMs: T0 - 5 }) });
  area$.next({ type: 'area.passage', passage: ext({ area: 'lab-floor', timeMs: T0 }) });
  inputs.next(rec('c1', T0 + 1000));
  area$.next({ type: 'area.sync', sync: { mode: 'stale', sinceMs: T0 + 2000, reason: 'NATS down' } });
  area$.next({ type: 'area.passage', passage: ext({ timeMs: T0 + 3000, direction: 'exit' }) });
  inputs.next(rec('c2', T0 + 4000));
  inputs.complete();
  await sub;
  t.equal(stats.areaPassages, 2, 'the two newer lobby passages');
  t.same(events.map((e) => (e.type === 'gate.opened' ? e.type : `${verdict(e)}:${e.area?.state}`)), ['denied:anti-passback:fresh', 'granted:stale']);
  t.notOk(states.at(-1)?.passages.has(areaPassageKey('lab-floor', 'alice-id')), 'an area no gate here names is not kept');
});

t.test('a gate set without areas ignores area inputs; a completed area input ends nothing', async (t) => {
  const gates = parseGates([{ id: 'g', cameras: ['c1'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 } }]);
  const out = await lastValueFrom(from([rec('c1', T0)]).pipe(gateDecisions(gates, { areaInputs: from<AreaInput[]>([{ type: 'area.passage', passage: ext() }]) }), toArray()));
  t.same(out.map((e) => e.type), ['gate.granted']);
});

t.test('config: exactly one of pairedGateId / area, with where and the fix', async (t) => {
  const code = (gates: unknown[]): string | undefined => {
    try {
      parseGates(gates);
      return undefined;
    } catch (e) {
      return e instanceof GateError ? `${e.code}: ${e.message}` : String(e);
    }
  };
  t.equal(code([{ id: 'a', cameras: ['c'], antiPassback: { area: 'hq-lobby', direction: 'entry' } }]), undefined, 'an area needs no partner on this box');
  t.match(code([{ id: 'a', cameras: ['c'], antiPassback: { area: 'hq-lobby', pairedGateId: 'b', direction: 'entry' } }]), /GATE_CONFIG_INVALID: .*gates\.0\.antiPassback\.area: give either `pairedGateId`.* or `area`/);
  t.match(code([{ id: 'a', cameras: ['c'], antiPassback: { direction: 'entry' } }]), /GATE_CONFIG_INVALID: .*gates\.0\.antiPassback: anti-passback needs `pairedGateId`/);
  t.match(code([{ id: 'a', cameras: ['c'], antiPassback: { area: 'hq lobby!', direction: 'entry' } }]), /gates\.0\.antiPassback\.area: expected an area name/);
  t.match(code([{ id: 'a', cameras: ['c'], antiPassback: { pairedGateId: 'b', direction: 'entry' } }, { id: 'b', cameras: ['d'], antiPassback: { area: 'x', direction: 'exit' } }]), /GATE_PAIR_INVALID/, 'a pair pointing at an area gate');

  const issues = (yaml: string): { path: string; message: string; hint?: string | undefined }[] => {
    try {
      parseConfigText(yaml, 'f.yaml');
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.issues.map((i) => ({ path: i.path.join('.'), message: i.message, hint: i.hint }));
      throw e;
    }
  };
  const cams = 'cameras:\n  - { id: c1, source: { kind: file, path: x.mp4 } }\n';
  t.same(issues(`${cams}gates:\n  - { id: a, cameras: [c1], antiPassback: { area: hq-lobby, direction: entry } }\n`), [], 'an area gate alone is a valid config');
  const both = issues(`${cams}gates:\n  - { id: a, cameras: [c1], antiPassback: { area: hq-lobby, pairedGateId: b, direction: entry } }\n`);
  t.match(both, [{ path: 'gates.0.antiPassback.area', message: /not both/, hint: /keep `area`/ }]);
  const neither = issues(`${cams}gates:\n  - { id: a, cameras: [c1], antiPassback: { direction: entry } }\n`);
  t.match(neither, [{ path: 'gates.0.antiPassback', message: /needs `pairedGateId`.*or `area`/, hint: /area: hq-lobby/ }]);
});

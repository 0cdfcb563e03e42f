import t from 'tap';
import {
  decide,
  EMPTY_GATE_STATE,
  endTrack,
  GateError,
  isHeldOpen,
  manualAction,
  parseGate,
  parseGates,
  pruneGateState,
  type GateDecision,
  type GateInput,
  type GatePolicy,
  type GateState,
  type RecognitionInput,
} from '../../src/gates/index.ts';
import type { Recognition } from '../../src/recognize/index.ts';
import type { TrackEndedEvent } from '../../src/track/index.ts';

// Compile-time: what the recognize and track stages emit fits the gate inputs.
const _fromRecognition = (r: Recognition & { groups: readonly string[] }): RecognitionInput => r;
const _fromTrackEnd = (e: TrackEndedEvent): GateInput => e;
void _fromRecognition;
void _fromTrackEnd;

const T0 = Date.parse('2026-01-05T10:00:00Z'); // a Monday

// Liveness is on by default; the scenarios here are about the rest of the policy, so their gate
// turns it off explicitly (the liveness tests below turn it back on).
function gate(over: Record<string, unknown> = {}): GatePolicy {
  return parseGate({ id: 'front', cameras: ['cam1'], allow: { identities: ['alice-id'], groups: ['staff'] }, confirmation: { n: 2, m: 3 }, liveness: { required: false }, ...over });
}

function rec(over: Partial<RecognitionInput> = {}): RecognitionInput {
  return { type: 'face.recognized', cameraId: 'cam1', trackId: 'cam1:1', identityId: 'alice-id', name: 'Alice', groups: [], score: 0.7, masked: false, liveness: 0.9, timeMs: T0, ...over };
}
const unknown = (over: Partial<RecognitionInput> = {}): RecognitionInput => rec({ type: 'face.unknown', identityId: undefined, name: undefined, score: 0.2, ...over });

/** Feed recognitions in order; collect decisions. */
function run(policy: GatePolicy, inputs: readonly RecognitionInput[], state: GateState = EMPTY_GATE_STATE): { decisions: (GateDecision | undefined)[]; state: GateState } {
  const decisions: (GateDecision | undefined)[] = [];
  for (const r of inputs) {
    const out = decide(policy, state, r, r.timeMs);
    decisions.push(out.decision);
    state = out.state;
  }
  return { decisions, state };
}
const types = (ds: readonly (GateDecision | undefined)[]): string[] => ds.map((d) => (d ? (d.type === 'gate.denied' ? `denied:${d.reason}` : 'granted') : '-'));

t.test('defaults come from the schema', async (t) => {
  const g = parseGate({ id: 'g', cameras: ['c'] });
  t.same(g.allow, { identities: [], groups: [] });
  t.equal(g.maskPolicy, 'allow');
  t.same(g.liveness, { required: true }, 'liveness required, at the models\' calibrated threshold');
  t.same(g.confirmation, { n: 2, m: 3 });
  t.equal(g.cooldownMs, 5000);
  t.equal(g.schedule, undefined);
  t.equal(g.antiPassback, undefined);
  const w = parseGate({ id: 'g', cameras: ['c'], actuation: { webhook: { url: 'http://127.0.0.1:1/x', secret: '0123456789abcdef' } } });
  t.match(w.actuation?.webhook, { timeoutMs: 2000, retries: 2, backoffMs: 250 });
  t.throws(() => parseGate({ id: 'g', cameras: ['c'], confirmation: { n: 4, m: 3 } }), /confirmation\.n must be <= confirmation\.m/);
  t.throws(() => parseGate({ id: 'g', cameras: [] }), /at least one camera/);
  t.throws(() => parseGate({ id: 'g', cameras: ['c'], actuation: {} }), /webhook or a command/);
});

t.test('confirmation: N of the last M recognitions of the track', async (t) => {
  const g = gate();
  t.same(types(run(g, [rec(), rec()]).decisions), ['-', 'granted'], 'A A');
  t.same(types(run(g, [rec(), rec({ identityId: 'bob-id' }), rec()]).decisions), ['-', '-', 'granted'], 'A B A');
  t.same(
    types(run(g, [rec(), rec({ identityId: 'bob-id' }), rec({ identityId: 'carol-id' }), rec(), rec()]).decisions),
    ['-', '-', '-', '-', 'granted'],
    'A B C A: A has 1 of the last 3; A again: 2 of 3',
  );
  const one = gate({ confirmation: { n: 1, m: 1 } });
  t.same(types(run(one, [rec()]).decisions), ['granted'], 'n=1 decides at once');
  const three = gate({ confirmation: { n: 3, m: 5 } });
  t.same(types(run(three, [rec(), unknown(), rec(), unknown(), rec()]).decisions), ['-', '-', '-', '-', 'granted']);
});

t.test('one final decision per track and identity; identity changes re-decide; unknown never overrides', async (t) => {
  const g = gate();
  const r = run(g, [rec(), rec(), rec(), rec(), unknown(), unknown(), unknown(), rec()]);
  t.same(types(r.decisions), ['-', 'granted', '-', '-', '-', '-', '-', '-'], 'no re-grant, no unknown denial after the grant');
  const sw = run(g, [rec(), rec(), rec({ identityId: 'mallory-id', name: 'Mallory' }), rec({ identityId: 'mallory-id', name: 'Mallory' })]);
  t.same(types(sw.decisions), ['-', 'granted', '-', 'denied:not-allowed'], 'an id switch to another person is decided');
  t.match(sw.decisions[3], { identityId: 'mallory-id', name: 'Mallory', trackId: 'cam1:1', gateId: 'front', cameraId: 'cam1' });
  const unk = run(g, [unknown(), unknown(), unknown(), rec(), rec()]);
  t.same(types(unk.decisions), ['-', 'denied:unknown', '-', '-', 'granted'], 'denied unknown, then recognised: granted');
  t.equal(unk.decisions[1]?.identityId, undefined);
  t.equal(unk.decisions[1]?.name, undefined);
  const denied = run(g, [rec({ identityId: 'x' }), rec({ identityId: 'x' }), rec({ identityId: 'x' })]);
  t.same(types(denied.decisions), ['-', 'denied:not-allowed', '-'], 'a denial is final too');
  const tracks = run(g, [rec({ trackId: 'cam1:1' }), rec({ trackId: 'cam1:2' }), rec({ trackId: 'cam1:1', timeMs: T0 + 10_000 }), rec({ trackId: 'cam1:2', timeMs: T0 + 20_000 })]);
  t.same(types(tracks.decisions), ['-', '-', 'granted', 'granted'], 'tracks are confirmed separately');
});

t.test('other cameras are ignored without touching the state', async (t) => {
  const g = gate();
  const out = decide(g, EMPTY_GATE_STATE, rec({ cameraId: 'cam9' }), T0);
  t.equal(out.decision, undefined);
  t.equal(out.state, EMPTY_GATE_STATE);
});

t.test('minScore: recognitions under the gate floor count for nobody; a pending track ends as low-confidence', async (t) => {
  const g = gate({ confirmation: { n: 2, m: 3, minScore: 0.6 } });
  const low = run(g, [rec({ score: 0.55 }), rec({ score: 0.5 }), rec({ score: 0.59, masked: true })]);
  t.same(types(low.decisions), ['-', '-', '-']);
  const end = endTrack(g, low.state, { cameraId: 'cam1', trackId: 'cam1:1', timeMs: T0 + 5000 }, T0 + 5000);
  t.match(end.decision, { type: 'gate.denied', reason: 'low-confidence', gateId: 'front', trackId: 'cam1:1', masked: true, score: 0.59, timeMs: T0 + 5000 });
  t.equal(end.decision?.identityId, undefined, 'no identity: none was confirmed');
  t.equal(end.state.tracks.size, 0, 'track state dropped');
  t.same(types(run(g, [rec({ score: 0.6 }), rec({ score: 0.61 })]).decisions), ['-', 'granted'], 'at the floor counts');
  const decided = run(g, [rec(), rec()]);
  const after = endTrack(g, decided.state, { cameraId: 'cam1', trackId: 'cam1:1', timeMs: T0 }, T0);
  t.equal(after.decision, undefined, 'a decided track ends silently');
  t.equal(after.state.tracks.size, 0);
  t.equal(endTrack(g, EMPTY_GATE_STATE, { cameraId: 'cam1', trackId: 'cam1:7', timeMs: T0 }, T0).decision, undefined, 'unseen track');
  t.equal(endTrack(g, low.state, { cameraId: 'cam2', trackId: 'cam1:1', timeMs: T0 }, T0).state, low.state, 'other camera');
});

t.test('minScoreMasked: masked faces get their own gate floor, bare faces keep minScore', async (t) => {
  const g = gate({ confirmation: { n: 2, m: 3, minScore: 0.5, minScoreMasked: 0.7 } });
  t.same(types(run(g, [rec({ score: 0.6, masked: true }), rec({ score: 0.65, masked: true })]).decisions), ['-', '-'], 'masked under its floor counts for nobody');
  t.same(types(run(g, [rec({ score: 0.7, masked: true }), rec({ score: 0.71, masked: true })]).decisions), ['-', 'granted'], 'masked at its floor');
  t.same(types(run(g, [rec({ score: 0.55 }), rec({ score: 0.6 })]).decisions), ['-', 'granted'], 'bare face: minScore applies');
  const only = gate({ confirmation: { n: 2, m: 3, minScore: 0.5 } });
  t.same(types(run(only, [rec({ score: 0.45, masked: true }), rec({ score: 0.48, masked: true })]).decisions), ['-', '-'], 'no minScoreMasked: masked faces fall back to minScore');
  const maskedOnly = gate({ confirmation: { n: 2, m: 3, minScoreMasked: 0.7 } });
  t.same(types(run(maskedOnly, [rec({ score: 0.3 }), rec({ score: 0.3 })]).decisions), ['-', 'granted'], 'no minScore: bare faces have no gate floor');
});

t.test('allow lists: identity id, identity name, group; empty lists grant nobody', async (t) => {
  const g = gate({ allow: { identities: ['alice-id', 'Bob'], groups: ['staff', 'cleaning'] } });
  const d = (r: Partial<RecognitionInput>): string => types(run(g, [rec(r), rec(r)]).decisions)[1];
  t.equal(d({ identityId: 'alice-id', name: 'Someone' }), 'granted', 'by id');
  t.equal(d({ identityId: 'bob-id', name: 'Bob' }), 'granted', 'by name');
  t.equal(d({ identityId: 'carol-id', name: 'Carol', groups: ['visitors', 'cleaning'] }), 'granted', 'by group');
  t.equal(d({ identityId: 'dave-id', name: 'Dave', groups: ['visitors'] }), 'denied:not-allowed');
  t.equal(d({ identityId: 'dave-id', name: 'Dave', groups: undefined }), 'denied:not-allowed', 'no groups looked up');
  const closed = parseGate({ id: 'g', cameras: ['cam1'], liveness: { required: false } });
  t.equal(types(run(closed, [rec(), rec()]).decisions)[1], 'denied:not-allowed', 'fail closed without allow lists');
});

t.test('decision order: liveness > mask-policy > unknown > not-allowed > outside-schedule > cooldown > anti-passback', async (t) => {
  const entry = parseGates([
    {
      id: 'entry',
      cameras: ['cam1'],
      allow: { groups: ['staff'] },
      maskPolicy: 'deny',
      liveness: { required: true, threshold: 0.8 },
      confirmation: { n: 1, m: 1 },
      cooldownMs: 60_000,
      schedule: { timeZone: 'UTC', weekly: [{ days: ['mon'], start: '08:00', end: '18:00' }] },
      antiPassback: { pairedGateId: 'exit', direction: 'entry', windowMs: 3_600_000 },
    },
    { id: 'exit', cameras: ['cam2'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, antiPassback: { pairedGateId: 'entry', direction: 'exit', windowMs: 3_600_000 } },
  ])[0];
  const night = Date.parse('2026-01-05T22:00:00Z');
  const worst: RecognitionInput = { ...unknown({ timeMs: night }), masked: true, liveness: 0.1 };
  let n = 0;
  const reason = (r: RecognitionInput, state: GateState = EMPTY_GATE_STATE): string => types([decide(entry, state, { ...r, trackId: `cam1:${++n}` }, r.timeMs).decision])[0];
  t.equal(reason(worst), 'denied:liveness');
  t.equal(reason({ ...worst, liveness: 0.8 }), 'denied:mask-policy');
  t.equal(reason({ ...worst, liveness: 0.8, masked: false }), 'denied:unknown');
  const known = { ...worst, liveness: 0.8, masked: false, type: 'face.recognized' as const, identityId: 'alice-id', name: 'Alice', score: 0.7 };
  t.equal(reason(known), 'denied:not-allowed');
  t.equal(reason({ ...known, groups: ['staff'] }), 'denied:outside-schedule');
  const day = { ...known, groups: ['staff'], timeMs: T0 };
  const granted = decide(entry, EMPTY_GATE_STATE, { ...day, trackId: 'cam1:100' }, T0);
  t.equal(granted.decision?.type, 'gate.granted');
  const repeat = decide(entry, granted.state, { ...day, trackId: 'cam1:101', timeMs: T0 + 30_000 }, T0 + 30_000);
  t.same([repeat.decision, repeat.repeat], [undefined, 'cooldown'], 'within cooldown: a repeat (no event), not an anti-passback denial');
  t.equal(reason({ ...day, timeMs: T0 + 60_000 }, granted.state), 'denied:anti-passback', 'after cooldown: anti-passback');
  t.equal(reason({ ...day, timeMs: T0 + 60_000, liveness: undefined }, granted.state), 'denied:liveness', 'missing liveness fails closed');
});

t.test('liveness and mask policies', async (t) => {
  const live = gate({ liveness: { required: true, threshold: 0.7 }, confirmation: { n: 1, m: 1 } });
  const one = (g: GatePolicy, r: Partial<RecognitionInput>): string => types([decide(g, EMPTY_GATE_STATE, rec(r), T0).decision])[0];
  t.equal(one(live, { liveness: 0.7 }), 'granted', 'at the threshold');
  t.equal(one(live, { liveness: 0.69 }), 'denied:liveness');
  t.equal(one(live, { liveness: undefined }), 'denied:liveness');
  t.equal(one(gate({ confirmation: { n: 1, m: 1 } }), { liveness: undefined }), 'granted', 'not required');
  const byModels = gate({ liveness: { required: true }, confirmation: { n: 1, m: 1 } });
  t.equal(one(byModels, { liveness: 0.9 }), 'denied:liveness', 'no threshold anywhere (neither the gate nor the models): fail closed');
  t.equal(one(byModels, { liveness: 0.62, livenessEvidence: { score: 0.62, frames: 9, threshold: 0.6, rule: 'median' } }), 'granted', "the models' calibrated threshold");
  t.equal(one(live, { liveness: 0.62, livenessEvidence: { score: 0.62, frames: 9, threshold: 0.6, rule: 'median' } }), 'denied:liveness', "the gate's own threshold wins");
  const deny = gate({ maskPolicy: 'deny', confirmation: { n: 1, m: 1 } });
  const require = gate({ maskPolicy: 'require', confirmation: { n: 1, m: 1 } });
  const allow = gate({ maskPolicy: 'allow', confirmation: { n: 1, m: 1 } });
  t.equal(one(deny, { masked: true }), 'denied:mask-policy');
  t.equal(one(deny, { masked: false }), 'granted');
  t.equal(one(require, { masked: false }), 'denied:mask-policy');
  t.equal(one(require, { masked: true }), 'granted');
  t.equal(one(allow, { masked: true }), 'granted');
  t.match(decide(allow, EMPTY_GATE_STATE, rec({ masked: true, score: 0.41, liveness: 0.93 }), T0).decision, { masked: true, score: 0.41, liveness: 0.93, timeMs: T0 });
});

t.test('liveness on by default: a confirmed track waits for its liveness, then the decision says what decided', async (t) => {
  const door = parseGate({ id: 'door', cameras: ['cam1'], allow: { groups: ['staff'] }, confirmation: { n: 2, m: 3 } });
  const ev = (score: number | undefined, frames: number) => ({ liveness: score, livenessEvidence: { score, frames, threshold: 0.5, rule: 'median' } });
  const live = run(door, [rec({ groups: ['staff'], ...ev(undefined, 1) }), rec({ groups: ['staff'], ...ev(undefined, 4) }), rec({ groups: ['staff'], ...ev(0.81, 5) })]);
  t.same(types(live.decisions), ['-', '-', 'granted'], 'confirmed on the 2nd recognition, decided when the liveness is known');
  t.same(live.decisions[2]?.livenessEvidence, { score: 0.81, frames: 5, threshold: 0.5, rule: 'median' });
  const replay = run(door, [rec({ groups: ['staff'], ...ev(undefined, 1) }), rec({ groups: ['staff'], ...ev(undefined, 4) }), rec({ groups: ['staff'], ...ev(0.07, 5) })]);
  t.same(types(replay.decisions), ['-', '-', 'denied:liveness']);
  t.same(replay.decisions[2]?.livenessEvidence, { score: 0.07, frames: 5, threshold: 0.5, rule: 'median' });
  t.equal(replay.decisions[2]?.identityId, 'alice-id', 'the identity presented (the victim) is named in the alarm');
  const stranger = run(door, [unknown(ev(undefined, 2)), unknown(ev(0.7, 6))]);
  t.same(types(stranger.decisions), ['-', 'denied:unknown'], 'a live stranger passes liveness and is denied as unknown');
  t.match(stranger.decisions[1], { livenessEvidence: { score: 0.7, frames: 6, threshold: 0.5 } });
  const waiting = run(door, [rec({ groups: ['staff'], ...ev(undefined, 1) }), rec({ groups: ['staff'], ...ev(undefined, 2) })]);
  const end = endTrack(door, waiting.state, { cameraId: 'cam1', trackId: 'cam1:1', timeMs: T0 + 1000 }, T0 + 1000);
  t.match(end.decision, { type: 'gate.denied', reason: 'low-confidence' }, 'a track that ends before its liveness is known is still answered');
  t.equal(gate().liveness.required, false);
  t.equal(decide(gate({ confirmation: { n: 1, m: 1 } }), EMPTY_GATE_STATE, rec(), T0).decision?.livenessEvidence, undefined, 'no evidence on gates that do not require liveness');
});

t.test('cooldown: per gate and identity, from the last grant', async (t) => {
  const [a, b] = parseGates([
    { id: 'a', cameras: ['cam1'], liveness: { required: false }, allow: { identities: ['alice-id', 'bob-id'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 5000 },
    { id: 'b', cameras: ['cam1'], liveness: { required: false }, allow: { identities: ['alice-id'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 5000 },
  ]);
  let state = EMPTY_GATE_STATE;
  const step = (g: GatePolicy, r: Partial<RecognitionInput>): string => {
    const out = decide(g, state, rec(r), r.timeMs ?? T0);
    state = out.state;
    return out.repeat ? `repeat:${out.repeat}` : types([out.decision])[0];
  };
  t.equal(step(a, { trackId: 'cam1:1', timeMs: T0 }), 'granted');
  t.equal(step(b, { trackId: 'cam1:1', timeMs: T0 }), 'granted', 'same camera, other gate: its own cooldown');
  t.equal(step(a, { trackId: 'cam1:2', timeMs: T0 + 1000 }), 'repeat:cooldown', 'a new track of the same person: no decision event (not a denial)');
  t.equal(step(a, { trackId: 'cam1:2', timeMs: T0 + 1100 }), '-', 'the repeat counts as the track decided: nothing more for it');
  t.equal(step(a, { trackId: 'cam1:3', timeMs: T0 + 2000, identityId: 'bob-id', name: 'Bob' }), 'granted', 'another identity');
  t.equal(step(a, { trackId: 'cam1:4', timeMs: T0 + 4999 }), 'repeat:cooldown');
  t.equal(step(a, { trackId: 'cam1:5', timeMs: T0 + 5000 }), 'granted', 'cooldown counts from the grant, not from the repeats');
  const zero = parseGate({ id: 'z', cameras: ['cam1'], liveness: { required: false }, allow: { identities: ['alice-id'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 0 });
  state = EMPTY_GATE_STATE;
  t.equal(step(zero, { trackId: 'cam1:1' }), 'granted');
  t.equal(step(zero, { trackId: 'cam1:2' }), 'granted', 'cooldownMs 0 disables it');
});

t.test('anti-passback: state shared between the paired gates', async (t) => {
  const gates = parseGates([
    { id: 'in', cameras: ['camIn'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 1000, antiPassback: { pairedGateId: 'out', direction: 'entry', windowMs: 3_600_000 } },
    { id: 'out', cameras: ['camOut'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 1000, antiPassback: { pairedGateId: 'in', direction: 'exit', windowMs: 3_600_000 } },
    { id: 'side', cameras: ['camSide'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 1000 },
  ]);
  const [gin, gout, side] = gates;
  let state = EMPTY_GATE_STATE;
  let n = 0;
  const pass = (g: GatePolicy, dtMs: number, identityId = 'alice-id'): string => {
    const cam = g.cameras[0];
    const out = decide(g, state, rec({ cameraId: cam, trackId: `${cam}:${++n}`, identityId, groups: ['staff'], timeMs: T0 + dtMs }), T0 + dtMs);
    state = out.state;
    return types([out.decision])[0];
  };
  t.equal(pass(gin, 0), 'granted', 'first entry');
  t.equal(pass(gin, 60_000), 'denied:anti-passback', 'second entry without exit');
  t.equal(pass(gin, 61_000, 'bob-id'), 'granted', 'per identity');
  t.equal(pass(side, 62_000), 'granted', 'unpaired gates do not care');
  t.equal(pass(gout, 120_000), 'granted', 'exit');
  t.equal(pass(gin, 180_000), 'granted', 'entry after exit');
  t.equal(pass(gout, 240_000), 'granted', 'exit');
  t.equal(pass(gout, 300_000), 'granted', 'exit gates do not enforce (exit twice)');
  t.equal(pass(gin, 360_000), 'granted');
  t.equal(pass(gin, 360_000 + 3_600_000), 'granted', 'entry again once the window has passed');
  t.equal(state.passages.size, 2, 'one last passage per identity and pair');

  // A denied entry records no passage.
  let s2 = EMPTY_GATE_STATE;
  const denied = decide(gin, s2, rec({ cameraId: 'camIn', trackId: 'camIn:1', groups: [], timeMs: T0 }), T0);
  t.equal(denied.decision?.type, 'gate.denied');
  s2 = denied.state;
  t.equal(s2.passages.size, 0);
});

t.test('anti-passback pairs are validated', async (t) => {
  const ap = (pairedGateId: string, direction: string): unknown => ({ pairedGateId, direction });
  const code = (input: unknown): string | undefined => {
    try {
      parseGates(input);
      return undefined;
    } catch (e) {
      return e instanceof GateError ? e.code : 'other';
    }
  };
  t.equal(code([{ id: 'a', cameras: ['c'], antiPassback: ap('b', 'entry') }]), 'GATE_PAIR_INVALID', 'missing pair');
  t.equal(code([{ id: 'a', cameras: ['c'], antiPassback: ap('b', 'entry') }, { id: 'b', cameras: ['d'] }]), 'GATE_PAIR_INVALID', 'pair not pointing back');
  t.equal(code([{ id: 'a', cameras: ['c'], antiPassback: ap('b', 'entry') }, { id: 'b', cameras: ['d'], antiPassback: ap('a', 'entry') }]), 'GATE_PAIR_INVALID', 'same direction');
  t.equal(code([{ id: 'a', cameras: ['c'], antiPassback: ap('a', 'entry') }]), 'GATE_CONFIG_INVALID', 'self pair');
  t.equal(code([{ id: 'a', cameras: ['c'] }, { id: 'a', cameras: ['d'] }]), 'GATE_CONFIG_INVALID', 'duplicate ids');
  t.equal(code([{ id: 'a', cameras: ['c'], antiPassback: ap('b', 'entry') }, { id: 'b', cameras: ['d'], antiPassback: ap('a', 'exit') }]), undefined, 'a proper pair');
  try {
    parseGates([{ id: 'a', cameras: ['c'], antiPassback: ap('b', 'entry') }]);
  } catch (e) {
    t.match((e as GateError).describe(), /fix: configure both gates/);
  }
});

t.test('decide is pure: same inputs, same outputs; the input state is never mutated', async (t) => {
  const g = gate({ cooldownMs: 1000, antiPassback: undefined });
  const r1 = run(g, [rec(), rec()]);
  const snapshot = JSON.stringify([...r1.state.tracks], null, 0) + JSON.stringify([...r1.state.lastGrants]);
  const a = decide(g, r1.state, rec({ trackId: 'cam1:2', timeMs: T0 + 10 }), T0 + 10);
  const b = decide(g, r1.state, rec({ trackId: 'cam1:2', timeMs: T0 + 10 }), T0 + 10);
  t.same(a.decision, b.decision);
  t.same([...a.state.tracks], [...b.state.tracks]);
  t.equal(JSON.stringify([...r1.state.tracks], null, 0) + JSON.stringify([...r1.state.lastGrants]), snapshot, 'old state untouched');
  t.equal(EMPTY_GATE_STATE.tracks.size, 0, 'the empty state stays empty');
  t.not(a.state, r1.state);
});

t.test('manual actions: audited gate.opened, hold-open state, validation', async (t) => {
  const g = gate();
  const open = manualAction(g, EMPTY_GATE_STATE, { action: 'open', by: 'guard1', reason: 'delivery' }, T0);
  t.same(open.event, { type: 'gate.opened', gateId: 'front', action: 'open', by: 'guard1', reason: 'delivery', timeMs: T0 });
  t.notOk(isHeldOpen(open.state, 'front', T0));
  const hold = manualAction(g, open.state, { action: 'hold-open', by: 'guard1', reason: 'fire drill', durationMs: 60_000 }, T0);
  t.equal(hold.event.durationMs, 60_000);
  t.ok(isHeldOpen(hold.state, 'front', T0 + 59_999));
  t.notOk(isHeldOpen(hold.state, 'front', T0 + 60_000));
  const forever = manualAction(g, EMPTY_GATE_STATE, { action: 'hold-open', by: ' guard2 ', reason: ' event ' }, T0);
  t.match(forever.event, { by: 'guard2', reason: 'event' }, 'trimmed');
  t.ok(isHeldOpen(forever.state, 'front', T0 + 1e12));
  const close = manualAction(g, forever.state, { action: 'close', by: 'guard2', reason: 'event over' }, T0 + 1000);
  t.equal(close.event.action, 'close');
  t.notOk(isHeldOpen(close.state, 'front', T0 + 1000));
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
      return undefined;
    } catch (e) {
      return e instanceof GateError ? e.code : 'other';
    }
  };
  t.equal(code(() => manualAction(g, EMPTY_GATE_STATE, { action: 'open', by: '', reason: 'x' }, T0)), 'GATE_ACTION_INVALID');
  t.equal(code(() => manualAction(g, EMPTY_GATE_STATE, { action: 'open', by: 'x', reason: '  ' }, T0)), 'GATE_ACTION_INVALID');
  t.equal(code(() => manualAction(g, EMPTY_GATE_STATE, { action: 'open', by: 'x', reason: 'y', durationMs: 5 }, T0)), 'GATE_ACTION_INVALID', 'duration only on hold-open');
  t.equal(code(() => manualAction(g, EMPTY_GATE_STATE, { action: 'hold-open', by: 'x', reason: 'y', durationMs: -1 }, T0)), 'GATE_ACTION_INVALID');
  t.equal(code(() => manualAction(g, EMPTY_GATE_STATE, { action: 'explode' as 'open', by: 'x', reason: 'y' }, T0)), 'GATE_ACTION_INVALID');
});

t.test('pruneGateState forgets stale tracks, expired cooldowns, passages and holds', async (t) => {
  const gates = parseGates([
    { id: 'in', cameras: ['c'], liveness: { required: false }, allow: { identities: ['alice-id'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 1000, antiPassback: { pairedGateId: 'out', direction: 'entry', windowMs: 10_000 } },
    { id: 'out', cameras: ['d'], liveness: { required: false }, confirmation: { n: 1, m: 1 }, antiPassback: { pairedGateId: 'in', direction: 'exit', windowMs: 10_000 } },
  ]);
  let s = decide(gates[0], EMPTY_GATE_STATE, rec({ cameraId: 'c', trackId: 'c:1' }), T0).state;
  s = manualAction(gates[1], s, { action: 'hold-open', by: 'g', reason: 'r', durationMs: 5000 }, T0).state;
  t.equal(pruneGateState(gates, s, T0 + 500), s, 'nothing stale: same object');
  const p1 = pruneGateState(gates, s, T0 + 1000);
  t.equal(p1.lastGrants.size, 0, 'cooldown over');
  t.equal(p1.passages.size, 1);
  const p2 = pruneGateState(gates, s, T0 + 10_000);
  t.equal(p2.passages.size, 0, 'window over');
  t.equal(p2.manual.size, 0, 'hold over');
  t.equal(p2.tracks.size, 1, 'track still young');
  t.equal(pruneGateState(gates, s, T0 + 10 * 60_000 + 1).tracks.size, 0, 'idle track dropped');
  t.equal(pruneGateState(gates, s, T0 + 1000, 500).tracks.size, 0, 'trackIdleMs parameter');
});

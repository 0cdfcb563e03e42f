/** The gate stage's pure reducer: one state folded over inputs, manual commands, area inputs and gate sets. */
import t from 'tap';
import { compileGateSet, EMPTY_GATE_STATE, initialGateStep, parseGates, stepGates, type GateCommand, type GateStep, type RecognitionInput } from '../../src/gates/index.ts';

const T0 = Date.parse('2026-01-05T10:00:00Z');
const gates = parseGates([
  { id: 'in', cameras: ['camIn'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 10_000 },
  { id: 'lab', cameras: ['camIn'], liveness: { required: false }, allow: { identities: ['bob-id'] }, confirmation: { n: 1, m: 1 } },
]);
const rec = (over: Partial<RecognitionInput> = {}): RecognitionInput => ({ type: 'face.recognized', cameraId: 'camIn', trackId: 'camIn:1', identityId: 'alice-id', name: 'Alice', groups: ['staff'], score: 0.7, masked: false, liveness: 0.9, timeMs: T0, ...over });
const fold = (start: GateStep, cmds: readonly GateCommand[]): GateStep[] => {
  const out: GateStep[] = [];
  let s = start;
  for (const c of cmds) out.push((s = stepGates(s, c)));
  return out;
};

t.test('a recognition is decided by every gate of its camera, in order', async (t) => {
  const [s] = fold(initialGateStep(compileGateSet(gates), EMPTY_GATE_STATE), [{ kind: 'input', input: rec() }]);
  t.same(s.decisions.map((d) => `${d.gate.id}:${d.event.type}`), ['in:gate.granted', 'lab:gate.denied']);
  t.equal(s.recognitions, 1);
  t.equal(s.inputs, 1);
  t.equal(s.error, undefined);
});

t.test('a new gate set takes over the state: the cooldown of the old set still holds', async (t) => {
  const renamed = parseGates([{ id: 'in', name: 'Front door', cameras: ['camIn'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 10_000 }]);
  const steps = fold(initialGateStep(compileGateSet(gates), EMPTY_GATE_STATE), [
    { kind: 'input', input: rec() },
    { kind: 'gates', set: compileGateSet(renamed) },
    { kind: 'input', input: rec({ trackId: 'camIn:2', timeMs: T0 + 1000 }) },
  ]);
  t.same(steps[1].decisions, [], 'swapping the set decides nothing');
  t.equal(steps[1].state, steps[0].state, 'and keeps the state');
  t.same(steps[2].decisions, [], 'Alice again within the cooldown: no second decision');
  t.equal(steps[2].cooldownRepeats, 1, 'counted as a repeat, not a denial');
});

t.test('a manual command for an unknown gate is an error value, the state unchanged', async (t) => {
  const start = initialGateStep(compileGateSet(gates), EMPTY_GATE_STATE);
  const [bad, good] = fold(start, [
    { kind: 'manual', request: { gateId: 'vault', action: 'open', by: 'operator', reason: 'test', timeMs: T0 } },
    { kind: 'manual', request: { gateId: 'in', action: 'hold-open', by: 'operator', reason: 'party', timeMs: T0 } },
  ]);
  t.match(bad.error, { code: 'GATE_UNKNOWN' });
  t.equal(bad.state, start.state);
  t.same(good.decisions.map((d) => d.event.type), ['gate.opened']);
  t.ok(good.state.manual.get('in'), 'the hold is in the state');
});

t.test('area passages of areas no gate names are not kept; area sync is recorded', async (t) => {
  const start = initialGateStep(compileGateSet(gates), EMPTY_GATE_STATE);
  const [other, sync] = fold(start, [
    { kind: 'area', input: { type: 'area.passage', passage: { area: 'elsewhere', identityId: 'alice-id', direction: 'entry', timeMs: T0, gateId: 'x', nodeId: 'n2' } } },
    { kind: 'area', input: { type: 'area.sync', sync: { mode: 'stale', reason: 'hub unreachable', sinceMs: T0 } } },
  ]);
  t.equal(other.state, start.state, 'a passage of another area changes nothing');
  t.equal(other.areaPassages, 0);
  t.equal(sync.state.areaSync.mode, 'stale');
});

t.test('two gates with one id are refused when the set is compiled', async (t) => {
  t.throws(() => compileGateSet([gates[0], gates[0]]), { code: 'GATE_CONFIG_INVALID' });
});

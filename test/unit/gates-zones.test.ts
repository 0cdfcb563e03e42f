import t from 'tap';
import { decide, EMPTY_GATE_STATE, endTrack, parseGate, pointInPolygon, zonesOfFace, type GateState, type Point, type RecognitionInput } from '../../src/gates/index.ts';

const T0 = Date.parse('2026-01-05T10:00:00Z');
const square: Point[] = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]];
// An L: the square's top-right quadrant cut out (concave).
const ell: Point[] = [[0, 0], [0.5, 0], [0.5, 0.5], [1, 0.5], [1, 1], [0, 1]];

t.test('pointInPolygon: convex, concave, outside, counter-clockwise', async (t) => {
  t.ok(pointInPolygon([0.5, 0.5], square));
  t.notOk(pointInPolygon([0.1, 0.5], square), 'left of it');
  t.notOk(pointInPolygon([0.5, 0.9], square), 'below it');
  t.ok(pointInPolygon([0.25, 0.25], ell), 'inside the L');
  t.notOk(pointInPolygon([0.75, 0.25], ell), 'in the notch of the L');
  t.ok(pointInPolygon([0.75, 0.75], ell), 'the lower right arm');
  t.ok(pointInPolygon([0.5, 0.5], [...square].reverse()), 'winding order does not matter');
  t.notOk(pointInPolygon([0.5, 0.5], [[0, 0], [1, 0], [0.5, 0.2]]), 'above a flat triangle');
});

t.test('zonesOfFace: the box centre in normalised frame coordinates', async (t) => {
  const zones = [{ id: 'door', polygon: square }, { id: 'left', polygon: [[0, 0], [0.3, 0], [0.3, 1], [0, 1]] as Point[] }];
  t.same(zonesOfFace([600, 300, 700, 420], 1280, 720, zones), ['door'], 'centre (650, 360) of a 1280x720 frame');
  t.same(zonesOfFace([10, 10, 200, 200], 1280, 720, zones), ['left']);
  t.same(zonesOfFace([280, 150, 400, 250], 1280, 720, zones), ['door', 'left'], 'overlapping zones both hold it');
  t.same(zonesOfFace([1100, 600, 1200, 700], 1280, 720, zones), []);
  t.same(zonesOfFace([600, 300, 700, 420], 0, 720, zones), [], 'no frame size: no zone');
});

t.test('a gate with a zone decides only on faces inside it; outside leaves no trace', async (t) => {
  const g = parseGate({ id: 'front', cameras: ['cam1'], liveness: { required: false }, zone: 'door', allow: { identities: ['alice-id'] }, confirmation: { n: 2, m: 3 } });
  const rec = (over: Partial<RecognitionInput>): RecognitionInput => ({ type: 'face.recognized', cameraId: 'cam1', trackId: 'cam1:1', identityId: 'alice-id', name: 'Alice', score: 0.7, masked: false, timeMs: T0, ...over });
  let state: GateState = EMPTY_GATE_STATE;
  const step = (r: RecognitionInput): string => {
    const out = decide(g, state, r, r.timeMs);
    state = out.state;
    return out.decision ? (out.decision.type === 'gate.granted' ? 'granted' : `denied:${out.decision.reason}`) : '-';
  };
  t.equal(step(rec({ zones: [] })), '-', 'outside the zone');
  t.equal(step(rec({ zones: ['hallway'] })), '-', 'in another zone');
  t.equal(step(rec({ zones: undefined })), '-', 'zones not computed: not in the zone');
  t.equal(state, EMPTY_GATE_STATE, 'no vote was recorded: the passer-by is not pending at this door');
  t.equal(endTrack(g, state, { cameraId: 'cam1', trackId: 'cam1:1', timeMs: T0 + 1000 }, T0 + 1000).decision, undefined, 'and no low-confidence denial when the track ends');
  t.equal(step(rec({ zones: ['door'], timeMs: T0 + 100 })), '-', 'walked into the zone: first vote');
  t.equal(step(rec({ zones: ['door', 'hallway'], timeMs: T0 + 200 })), 'granted', 'second vote inside: confirmed');
  const stranger = rec({ type: 'face.unknown', identityId: undefined, name: undefined, trackId: 'cam1:2', zones: [] });
  t.equal(step(stranger), '-');
  t.equal(step({ ...stranger, timeMs: T0 + 300 }), '-', 'a stranger outside the zone is never denied');
  const noZone = parseGate({ id: 'any', cameras: ['cam1'], liveness: { required: false }, allow: { identities: ['alice-id'] }, confirmation: { n: 1, m: 1 } });
  t.equal(decide(noZone, EMPTY_GATE_STATE, rec({ zones: [] }), T0).decision?.type, 'gate.granted', 'a gate without a zone: the whole frame');
});

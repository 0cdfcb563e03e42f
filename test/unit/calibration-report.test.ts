import t from 'tap';
import { BIN_COUNT, binOf, calibrationReport, formatCalibrationReport, normalTail, scoreSamples, type CalibrationEvent } from '../../src/recognize/calibration-report.ts';
import { mulberry32 } from '../../src/lib/random.ts';

const thresholds = { unmasked: 0.3, masked: 0.25, source: 'test' };
const rec = (id: number, cameraId: string, score: number, masked = false): CalibrationEvent => ({ id, type: 'face.recognized', timeMs: 1_000 * id, cameraId, identityId: 'id_a', data: { name: 'Ada', score, masked } });
const unk = (id: number, cameraId: string, score: number | undefined, masked = false): CalibrationEvent => ({ id, type: 'face.unknown', timeMs: 1_000 * id, cameraId, data: { ...(score !== undefined ? { score } : {}), masked } });

t.test('normalTail: the standard normal upper tail', async (t) => {
  t.ok(Math.abs(normalTail(0) - 0.5) < 1e-7);
  t.ok(Math.abs(normalTail(1.959964) - 0.025) < 1e-6);
  t.ok(Math.abs(normalTail(-1.959964) - 0.975) < 1e-6);
  t.ok(normalTail(8) < 1e-14);
});

t.test('bins: 0.05 wide from -0.1, out-of-range scores in the end bins', async (t) => {
  t.equal(binOf(-0.1), 0);
  t.equal(binOf(-0.5), 0);
  t.equal(binOf(0.3), 8);
  t.equal(binOf(0.2999), 7);
  t.equal(binOf(0.99), BIN_COUNT - 1);
  t.equal(binOf(1), BIN_COUNT - 1);
});

t.test('samples: recognitions are genuine, unknowns with a score strangers; other events and unscored unknowns apart', async (t) => {
  const r = scoreSamples([rec(1, 'door', 0.6), unk(2, 'door', 0.1), unk(3, 'door', undefined), { type: 'gate.granted', timeMs: 4, data: { score: 0.9 } }]);
  t.same(r.samples.map((s) => [s.kind, s.score, s.eventId]), [['genuine', 0.6, 1], ['stranger', 0.1, 2]]);
  t.equal(r.strangerWithoutScore, 1);
});

t.test('per camera: histograms, near-threshold counts, the top strangers against their own threshold', async (t) => {
  const events = [rec(1, 'door', 0.62), rec(2, 'door', 0.33), rec(3, 'lobby', 0.7), unk(4, 'door', 0.28), unk(5, 'door', 0.05), unk(6, 'lobby', 0.24, true), unk(7, 'lobby', 0.12)];
  const r = calibrationReport(events, thresholds, { top: 2 });
  t.same(r.events, { genuine: 3, stranger: 4, strangerWithoutScore: 0 });
  t.same(r.cameras.map((c) => c.cameraId), ['door', 'lobby']);
  const door = r.cameras[0];
  t.equal(door.genuine.count, 2);
  t.equal(door.genuine.histogram[binOf(0.62)], 1);
  t.equal(door.stranger.histogram.reduce((a, b) => a + b, 0), 2);
  t.equal(door.estimate.genuineNearThreshold, 1, '0.33 is within 0.05 above 0.3');
  t.equal(door.estimate.strangersNearThreshold, 1, '0.28 is within 0.05 below 0.3');
  // The masked 0.24 is 0.01 below its 0.25 threshold: closer than the unmasked 0.28 (0.02 below 0.3).
  t.match(r.topStrangers, [{ cameraId: 'lobby', score: 0.24, threshold: 0.25, masked: true, eventId: 6 }, { cameraId: 'door', score: 0.28, threshold: 0.3 }]);
  t.ok(Math.abs(r.topStrangers[0].gap - 0.01) < 1e-9);
  t.equal(r.fromMs, 1000);
  t.equal(r.toMs, 7000);
  t.match(formatCalibrationReport(r), /thresholds in force: unmasked 0\.3, masked 0\.25 \(test\)[\s\S]*camera lobby[\s\S]*how close did a stranger come[\s\S]*0\.240 on lobby \(masked\), 0\.010 below the threshold 0\.25/);
});

t.test('estimated error rates follow the distributions: strangers creeping up raise the false accept estimate', async (t) => {
  const rand = mulberry32(3);
  const gauss = (): number => {
    const u = rand() || 1e-9;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const far = (strangerMean: number): number => {
    const events: CalibrationEvent[] = [];
    for (let i = 0; i < 400; i++) events.push(unk(i, 'door', Math.min(0.299, strangerMean + 0.05 * gauss())));
    for (let i = 0; i < 400; i++) events.push(rec(1000 + i, 'door', Math.max(0.3, 0.6 + 0.08 * gauss())));
    return calibrationReport(events, thresholds).overall.estimate.falseAcceptRate as number;
  };
  const low = far(0.05);
  const high = far(0.2);
  t.ok(low < 1e-4, `strangers far below: ${low}`);
  t.ok(high > low * 100 && high < 0.1, `strangers close: ${high}`);
  const r = calibrationReport([rec(1, 'door', 0.5)], thresholds);
  t.equal(r.overall.estimate.falseRejectRate, null, 'one sample: no estimate');
  t.equal(r.overall.estimate.falseAcceptRate, null);
  t.match(formatCalibrationReport(r), /n\/a \(fewer than 2 samples\)[\s\S]*no stranger with a score yet/);
});

import t from 'tap';
import { enrollmentQualityFailures, type EnrollmentMeasures } from '../../src/recognize/enroll-quality.ts';
import { DEFAULT_ENROLLMENT_RULES } from '../../src/recognize/enroll.ts';

const good: EnrollmentMeasures = { faces: 1, eyeDistancePx: 60, yaw: 0.05, pitch: 0.02, sharpness: 600 };
const rules = { ...DEFAULT_ENROLLMENT_RULES, minInterOcular: 40 };

t.test('a good portrait passes every check', async (t) => {
  t.same(enrollmentQualityFailures(good, rules), []);
});

t.test('each check names itself, the measured value, the threshold and the fix', async (t) => {
  const [small] = enrollmentQualityFailures({ ...good, eyeDistancePx: 31.2 }, rules);
  t.match(small, { check: 'eye-distance', value: 31.2, threshold: 40, message: 'move closer: eyes 31 px apart, at least 40 needed', fix: /closer/ });
  const [yaw] = enrollmentQualityFailures({ ...good, yaw: -0.6 }, rules);
  t.match(yaw, { check: 'yaw', value: -0.6, threshold: rules.maxYaw, message: /face the camera.*yaw -0\.60, at most 0\.45/ });
  const [pitch] = enrollmentQualityFailures({ ...good, pitch: 0.5 }, rules);
  t.match(pitch, { check: 'pitch', threshold: rules.maxPitch, message: /tilted down \(pitch 0\.50/ });
  const [blur] = enrollmentQualityFailures({ ...good, sharpness: 80.4 }, rules);
  t.match(blur, { check: 'sharpness', value: 80.4, threshold: rules.minSharpness, message: `too blurry: sharpness 80, at least ${rules.minSharpness} needed`, fix: /still/ });
});

t.test('the face count: none stops there; several are reported with the other failures', async (t) => {
  t.same(enrollmentQualityFailures({ ...good, faces: 0, eyeDistancePx: 0, sharpness: 0 }, rules).map((f) => f.check), ['one-face']);
  const several = enrollmentQualityFailures({ ...good, faces: 3, sharpness: 10 }, rules);
  t.same(several.map((f) => f.check), ['one-face', 'sharpness'], 'in the order to fix them');
  t.match(several[0], { value: 3, threshold: 1, message: '3 faces: exactly 1 needed' });
});

t.test('the thresholds are inclusive: a value exactly at the threshold passes', async (t) => {
  t.same(enrollmentQualityFailures({ ...good, eyeDistancePx: 40, yaw: rules.maxYaw, pitch: -rules.maxPitch, sharpness: rules.minSharpness }, rules), []);
});

t.test("the config's defaults are the enrollment rules' and the gallery's", async (t) => {
  const { parseConfig } = await import('../../src/config/index.ts');
  const { DEFAULT_NEGATIVE_MARGIN } = await import('../../src/gallery/negative-anchors.ts');
  const r = parseConfig({}).recognition;
  t.same(r.enrollment, { minEyeDistance: DEFAULT_ENROLLMENT_RULES.minInterOcular, maxYaw: DEFAULT_ENROLLMENT_RULES.maxYaw, maxPitch: DEFAULT_ENROLLMENT_RULES.maxPitch, minSharpness: DEFAULT_ENROLLMENT_RULES.minSharpness });
  t.equal(r.negativeMargin, DEFAULT_NEGATIVE_MARGIN);
  t.equal(parseConfig({ recognition: { enrollment: { minEyeDistance: 60 } } }).recognition.enrollment.minEyeDistance, 60, 'configurable');
});

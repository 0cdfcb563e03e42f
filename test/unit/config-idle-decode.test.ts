/**
 * idleKeyframesProblem: the config check's rule for `motion.idleDecode: keyframes`, which the
 * dashboard's camera wizard also runs on the entry it is about to save (as the file has it: no
 * defaults filled in). Every combination of the fields it reads, written and left out, gets the
 * same answer from the rule on the raw entry as from the config check on the saved file.
 */
import t from 'tap';
import { cameraSchema } from '../../src/config/camera-schema.ts';
import { IDLE_DECODE_DEFAULT, idleKeyframesProblem } from '../../src/config/idle-decode.ts';

type Raw = Record<string, unknown>;

function rawCameras(): Raw[] {
  const out: Raw[] = [];
  const motions: (Raw | undefined)[] = [undefined, { enabled: true }, { enabled: false }];
  const sources: (Raw | undefined)[] = [undefined];
  for (const codec of [undefined, 'auto', 'h264', 'h265']) {
    sources.push({ kind: 'rtsp', url: 'rtsp://127.0.0.1:8554/door', ...(codec ? { codec } : {}) });
    for (const lossless of [undefined, false, true]) sources.push({ kind: 'file', path: 'clip.mp4', ...(codec ? { codec } : {}), ...(lossless === undefined ? {} : { lossless }) });
  }
  sources.push({ kind: 'test' }, { kind: 'pipeline', pipeline: 'v4l2src device=/dev/video0' });
  for (const motion of motions) {
    for (const source of sources) {
      out.push({ id: 'cam', ...(source ? { source } : { url: 'rtsp://127.0.0.1:8554/door' }), ...(motion ? { motion } : {}) });
    }
  }
  return out;
}

t.test('the rule on a raw entry agrees with the config check on the saved entry, for every combination', async (t) => {
  let allowed = 0;
  for (const raw of rawCameras()) {
    const problem = idleKeyframesProblem(raw as Parameters<typeof idleKeyframesProblem>[0]);
    const saved = { ...raw, motion: { ...((raw.motion as Raw | undefined) ?? {}), idleDecode: 'keyframes' } };
    const checked = cameraSchema.safeParse(saved);
    const label = JSON.stringify(raw);
    if (problem === undefined) {
      allowed++;
      t.ok(checked.success, `allowed and accepted: ${label}${checked.success ? '' : ` (${checked.error.message})`}`);
    } else {
      t.notOk(checked.success, `refused by both: ${label}`);
      const issue = checked.success ? undefined : checked.error.issues.find((i) => i.message === problem.message);
      t.ok(issue, `the check reports the rule's message: ${problem.message}`);
      t.same(issue?.path, problem.path, `at the rule's path ${problem.path.join('.')}`);
    }
  }
  // url shorthand / rtsp (any codec but auto) with motion on or unset, and the non-lossless h264/h265 files.
  t.equal(allowed, 2 * (1 + 3 + 2 * 2), 'the allowed combinations: rtsp h264/h265 (named or default) and non-lossless h264/h265 files, motion not off');
});

t.test('each refusal names its cause', async (t) => {
  t.equal(idleKeyframesProblem({}), undefined, 'the url shorthand with every default: allowed');
  t.match(idleKeyframesProblem({ motion: { enabled: false } }), { path: ['motion', 'idleDecode'], message: /motion gate/ });
  t.match(idleKeyframesProblem({ source: { kind: 'test' } }), { path: ['motion', 'idleDecode'], message: /not a test source/ });
  t.match(idleKeyframesProblem({ source: { kind: 'file' } }), { path: ['source', 'codec'], message: /codec named/, hint: /codec: h264/ });
  t.match(idleKeyframesProblem({ source: { kind: 'rtsp', codec: 'auto' } }), { path: ['source', 'codec'] });
  t.match(idleKeyframesProblem({ source: { kind: 'file', codec: 'h265', lossless: true } }), { message: /lossless/ });
  t.equal(idleKeyframesProblem({ source: { kind: 'file', codec: 'h265', lossless: false } }), undefined);
});

t.test('the schema default is the exported one', async (t) => {
  const parsed = cameraSchema.parse({ id: 'cam', url: 'rtsp://127.0.0.1:8554/door' });
  t.equal(parsed.motion.idleDecode, IDLE_DECODE_DEFAULT);
});

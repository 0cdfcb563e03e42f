/** Pure cores added for issue 14: spawn-error classes, connection-lost, PTS-gap drops, launch plan, secret strings. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import {
  buildPipeline,
  classifyExit,
  classifySpawnError,
  expectedIntervalNs,
  launchPlan,
  missedBetween,
  scrubSecrets,
  secretStringsOf,
} from '../../src/ingest/index.ts';

const LAUNCHER = join(dirname(fileURLToPath(import.meta.url)), '../../src/ingest/gst-launch-stdin.py');

t.test('spawn errors by cause: transient, slow, too long', async (t) => {
  for (const code of ['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']) {
    const r = classifySpawnError(code, 'gst-launch-1.0');
    t.equal(r.kind, 'out-of-resources', code);
    t.match(r.message, new RegExp(code));
    t.match(r.hint, /retries/);
  }
  t.equal(classifySpawnError('ENOENT', 'gst-launch-1.0').kind, 'gstreamer-missing');
  t.equal(classifySpawnError('EACCES', 'gst-launch-1.0').kind, 'gstreamer-missing');
  t.same([classifySpawnError('E2BIG', 'x').kind, /E2BIG/.test(classifySpawnError('E2BIG', 'x').message)], ['spawn-failed', true]);
  t.equal(classifySpawnError('EWHATEVER', 'x').kind, 'spawn-failed');
});

t.test('killed server (rtspsrc warning) is connection-lost; clean EOS stays eos', async (t) => {
  const rtsp = { kind: 'rtsp' as const, url: 'rtsp://admin:pw@cam/x' };
  const warn = '0:00:03.003 10942 0x56 WARN rtspsrc gstrtspsrc.c:5885:gst_rtspsrc_loop_interleaved:<rtspsrc0> warning: The server closed the connection.';
  t.equal(classifyExit({ code: 0, signal: null, stderr: [warn] }, rtsp).kind, 'connection-lost');
  t.equal(classifyExit({ code: 0, signal: null, stderr: ['WARNING: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not read from resource.'] }, rtsp).kind, 'connection-lost');
  // Killed with data in flight, rtspsrc posts an ERROR (reset read), not the close warning.
  const reset = ['ERROR: from element /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0: Could not read from resource.', 'Additional debug info:', 'gstrtspsrc.c(5965): gst_rtspsrc_loop_interleaved (): /GstPipeline:pipeline0/GstRTSPSrc:rtspsrc0:', 'Could not receive message. (System error)'];
  t.equal(classifyExit({ code: 1, signal: null, stderr: reset }, rtsp).kind, 'connection-lost', 'a reset read is a lost connection');
  t.equal(classifyExit({ code: 1, signal: null, stderr: reset }, { kind: 'file', path: '/x.mp4' }).kind, 'error', 'only for an RTSP source');
  t.equal(classifyExit({ code: 0, signal: null, stderr: [] }, rtsp).kind, 'eos');
  t.notMatch(classifyExit({ code: 0, signal: null, stderr: [warn] }, rtsp).message, /pw/);
});

t.test('frames missing by PTS', async (t) => {
  const I = 40e6; // 25 fps
  t.equal(expectedIntervalNs(25, undefined), I);
  t.equal(expectedIntervalNs(25, 10), 1e8, 'the output cap wins when lower');
  t.equal(expectedIntervalNs(undefined, undefined), undefined);
  t.equal(expectedIntervalNs(0, undefined), undefined, 'variable rate');
  t.equal(missedBetween(0, I, I), 0, 'consecutive');
  t.equal(missedBetween(0, 1.4 * I, I), 0, 'jitter');
  t.equal(missedBetween(0, 2 * I, I), 1);
  t.equal(missedBetween(0, 10 * I, I), 9);
  t.equal(missedBetween(10 * I, 0, I), 0, 'new segment');
  t.equal(missedBetween(undefined, I, I), 0);
  t.equal(missedBetween(0, I, undefined), 0);
});

t.test('launch plan: secrets go on stdin, never on the command line', async (t) => {
  const secret = buildPipeline({ source: { kind: 'rtsp', url: 'rtsp://admin:Pw%40Secret9@10.0.0.5/s' } });
  t.equal(secret.carriesSecrets, true);
  const plan = launchPlan(secret, {});
  t.notMatch(plan.args.join(' '), /Secret9|admin/);
  t.match(plan.stdin ?? '', /Secret9/, 'the pipeline travels on stdin');
  t.same(JSON.parse(plan.stdin ?? '[]'), secret.argv);
  t.equal(plan.env.GST_DEBUG, 'rtspsrc:2', 'rtspsrc warnings reach stderr');
  const query = buildPipeline({ source: { kind: 'rtsp', url: 'rtsp://10.0.0.5/s?password=QuerySecret7' } });
  t.equal(query.carriesSecrets, true, 'a query password counts');
  const plain = buildPipeline({ source: { kind: 'rtsp', url: 'rtsp://10.0.0.5/s' } });
  const p = launchPlan(plain, { GST_DEBUG: '3' });
  t.same([p.stdin, p.args.slice(0, 2), p.env.GST_DEBUG], [undefined, ['-q', '-e'], '3'], 'no secret: gst-launch argv; the user GST_DEBUG is kept');
  const tuned = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };
  t.same([launchPlan(plain, tuned).env.MALLOC_MMAP_THRESHOLD_, launchPlan(plain, tuned).env.MALLOC_ARENA_MAX], [undefined, '2'], "the service's fixed mmap threshold stays out of the gst child");
  t.same([launchPlan(secret, tuned).env.MALLOC_MMAP_THRESHOLD_, tuned.MALLOC_MMAP_THRESHOLD_], [undefined, '131072'], 'also through the launcher, and the caller env is not changed');
  const test = launchPlan(buildPipeline({ source: { kind: 'test' } }), {});
  t.equal(test.env.GST_DEBUG, undefined, 'no rtspsrc, no debug');
});

t.test('secret strings of a URL, scrubbed from stderr', async (t) => {
  const s = secretStringsOf('rtsp://admin:P@ss@h/x?token=TokSecret5&ch=1');
  t.ok(s.includes('admin:P@ss') && s.includes('P@ss') && s.includes('TokSecret5'), s.join(' | '));
  t.equal(scrubSecrets('auth as admin:P@ss failed, token TokSecret5', s), 'auth as *** failed, token ***');
  t.same(secretStringsOf('rtsp://h/x'), []);
});

t.test('the stdin launcher behaves like gst-launch -q -e', async (t) => {
  const run = (argv: unknown, env: NodeJS.ProcessEnv = process.env, python = '/usr/bin/python3') =>
    spawnSync(python, ['-I', LAUNCHER], { input: JSON.stringify(argv), encoding: 'utf8', timeout: 20_000, env });
  const eos = run(['videotestsrc', 'num-buffers=3', '!', 'fakesink']);
  t.same([eos.status, eos.stderr], [0, ''], 'EOS: exit 0, nothing on stderr');
  const missing = run(['nosuchelement', '!', 'fakesink']);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /erroneous pipeline: no element "nosuchelement"/);
  t.equal(classifyExit({ code: missing.status, signal: null, stderr: missing.stderr.split('\n') }, { kind: 'test' }).kind, 'missing-element');
  const refused = run(['rtspsrc', 'location=rtsp://u:Secret9@127.0.0.1:9/x', '!', 'fakesink']);
  t.equal(refused.status, 1);
  t.match(refused.stderr, /^ERROR: from element \/GstPipeline:pipeline0\/GstRTSPSrc:rtspsrc0: Could not open resource/m);
  t.equal(classifyExit({ code: 1, signal: null, stderr: refused.stderr.split('\n') }, { kind: 'rtsp', url: 'rtsp://u:Secret9@127.0.0.1:9/x' }).kind, 'connect-failed');
  const bad = run({ not: 'an array' });
  t.same([bad.status, /bad launcher input/.test(bad.stderr)], [1, true]);
  const noGi = spawnSync('/usr/bin/python3', ['-I', '-S', LAUNCHER], { input: '[]', encoding: 'utf8' });
  t.equal(noGi.status, 127, 'no GStreamer bindings: 127 (reported as gstreamer-missing)');
  t.match(noGi.stderr, /failed to execute gst-launch/);
});

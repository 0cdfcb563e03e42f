/** `facegate cameras probe` against the real loopback RTSP server. */
import { execFile } from 'node:child_process';
import t from 'tap';
import { redactUrl } from '../../src/log.ts';
import { REPO_ROOT, withRtspCamera } from '../helpers/rtsp.ts';

function cameras(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import=tsx', 'test/helpers/cameras-cli.ts', 'cameras', ...args], { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

t.test('cameras probe', async (t) => {
  const server = await withRtspCamera(t, { width: 320, height: 240, fps: 15, auth: 'viewer:Hunter22' });

  t.test('reports size, fps and first-frame latency; credentials redacted', async (t) => {
    const r = await cameras(['probe', server.url('/test', 'viewer:Hunter22')]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^rtsp:\/\/\*\*\*@127\.0\.0\.1:\d+\/test\n  video        320x240 @ 15 fps/);
    t.match(r.stdout, /first frame  \d+ ms/);
    t.notMatch(r.stdout + r.stderr, /Hunter22|viewer/);
  });

  t.test('--json and --transport udp', async (t) => {
    const r = await cameras(['probe', '--json', '--transport', 'udp', '--timeout-ms', '15000', server.url('/test', 'viewer:Hunter22')]);
    t.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { ok: boolean; transport: string; caps: { width: number; height: number }; firstFrameMs: number };
    t.same([j.ok, j.transport, j.caps.width, j.caps.height], [true, 'udp', 320, 240]);
    t.ok(j.firstFrameMs > 0);
  });

  t.test('every secret form stays out of probe output (text and --json, success and failure)', async (t) => {
    const port = server.port;
    const forms = [
      `rtsp://viewer:Pw@Leak9@127.0.0.1:${port}/test`, // unencoded @ in the password
      `rtsp://127.0.0.1:${port}/test?user=viewer&password=QLeak7`,
      `rtsp://127.0.0.1:1/x?token=TLeak5`,
      `rtsp://viewer:${encodeURIComponent('Hunter22')}@127.0.0.1:${port}/test?auth=ALeak3`,
    ];
    for (const url of forms) {
      for (const json of [false, true]) {
        const r = await cameras(['probe', '--timeout-ms', '8000', ...(json ? ['--json'] : []), url]);
        const out = r.stdout + r.stderr;
        t.notMatch(out, /Leak9|QLeak7|TLeak5|ALeak3|Hunter22/, `${redactUrl(url)}${json ? ' --json' : ''}: exit ${r.code}, no secret in ${JSON.stringify(out.slice(0, 160))}`);
        t.match(out, /127\.0\.0\.1/, 'the host is still named');
      }
    }
  });

  t.test('failures: message + fix, exit 1, no stack trace, no password', async (t) => {
    const cases = [
      { args: [server.url('/test', 'viewer:WrongPw1')], re: /^error: .*authentication failed.*\n  fix: check the user name and password/ },
      { args: ['rtsp://viewer:Hunter22@127.0.0.1:1/test'], re: /^error: connection refused by 127\.0\.0\.1:1\n  fix: / },
      { args: ['/no/such/file.mp4'], re: /^error: \/no\/such\/file\.mp4: file not found\n  fix: check the file path/ },
    ];
    for (const c of cases) {
      const r = await cameras(['probe', '--timeout-ms', '8000', ...c.args]);
      t.equal(r.code, 1, redactUrl(c.args[0]));
      t.match(r.stderr, c.re);
      t.notMatch(r.stderr + r.stdout, /\n\s+at |Hunter22|WrongPw1/, 'no stack, no password');
    }
    const json = await cameras(['probe', '--json', 'rtsp://127.0.0.1:1/x']);
    t.equal(json.code, 1);
    t.match(JSON.parse(json.stdout), { ok: false, error: { code: 'refused', hint: /port/ } });
    const bad = await cameras(['probe', '--transport', 'sctp', server.url()]);
    t.not(bad.code, 0);
    t.match(bad.stderr, /transport must be tcp or udp/);
  });
});

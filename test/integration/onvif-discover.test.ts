/**
 * ONVIF discovery against the in-test device (test/helpers/onvif-device.ts): a directed probe to
 * 127.0.0.1 through the real CLI, the UsernameToken digest checked by the device, the stream URI
 * it answers (a real RTSP test camera's) opened by the real ingest probe; a wrong password
 * reported as ONVIF_AUTH; an older device without GetServices. The multicast probe runs only
 * inside a network namespace this test creates (loopback only, multicast on): never on the
 * machine's own interfaces.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import t, { type Test } from 'tap';
import { probeCamera } from '../../src/ingest/index.ts';
import { discoverCameras } from '../../src/onvif/index.ts';
import { startOnvifDevice, type OnvifTestDevice } from '../helpers/onvif-device.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';

const PASSWORD = 'Onv1f-Secret-Pw';
const CLI = resolve('test/helpers/cameras-cli.ts');

function runCli(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function device(t: Test, o: Partial<Parameters<typeof startOnvifDevice>[0]> & { rtspUrl: string }): Promise<OnvifTestDevice> {
  const d = await startOnvifDevice({ user: 'admin', password: PASSWORD, discovery: 'directed', ...o });
  t.teardown(() => d.close());
  return d;
}

interface CliCamera {
  name: string;
  hardware: string;
  address: string;
  xaddr: string;
  profiles: Array<{ token: string; name: string; width: number; height: number; encoding: string; streamUri?: string; snapshotUri?: string }>;
  error?: { code: string; message: string };
}

t.test('directed discovery through the CLI, with the digest checked and a real stream', async (t) => {
  const rtsp = await withRtspCamera(t, { width: 160, height: 120, fps: 5 });
  const d = await device(t, { rtspUrl: rtsp.url('/test') });
  const r = await runCli(['cameras', 'discover', '--json', '--timeout', '1', '--host', `127.0.0.1:${d.discoveryPort}`, '--user', 'admin', '--password-env', 'FG_TEST_ONVIF_PW'], { FG_TEST_ONVIF_PW: PASSWORD });
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; cameras: CliCamera[] };
  t.ok(out.ok);
  t.equal(out.cameras.length, 1, 'one device, answered once');
  const cam = out.cameras[0];
  t.match(cam, { name: 'Test Door', hardware: 'FG-TEST-1', address: d.address, xaddr: d.deviceUrl });
  t.same(
    cam.profiles.map((p) => [p.token, p.name, p.encoding, p.width, p.height]),
    [
      ['main', 'MainStream', 'H264', 160, 120],
      ['sub', 'SubStream', 'H264', 80, 60],
    ],
  );
  t.equal(cam.profiles[0].streamUri, rtsp.url('/test'));
  t.match(cam.profiles[0].snapshotUri, /^http:\/\/127\.0\.0\.1:\d+\/snapshot\/main\.jpg$/);
  t.equal(cam.profiles[1].snapshotUri, undefined, 'a profile without a snapshot (a fault) has none');
  t.equal(d.probes, 1);
  t.same(
    d.log.map((l) => l.op),
    ['GetServices', 'GetProfiles', 'GetStreamUri', 'GetSnapshotUri', 'GetStreamUri', 'GetSnapshotUri'],
  );
  t.ok(d.log.slice(0, 4).every((l) => l.ok), 'the device accepted the digest');
  t.notOk(d.requests.some((x) => x.includes(PASSWORD)), 'the password never travelled in clear');
  t.notOk(r.stdout.includes(PASSWORD) || r.stderr.includes(PASSWORD), 'nor reached the output');

  // The URI discovery found is a working stream.
  const probe = await probeCamera(cam.profiles[0].streamUri ?? '', { transport: 'tcp', timeoutMs: 20_000 });
  t.equal(probe.caps.width, 160);
  t.equal(probe.caps.height, 120);

  // The text output.
  const text = await runCli(['cameras', 'discover', '--timeout', '1', '--host', `127.0.0.1:${d.discoveryPort}`, '--user', 'admin', '--password-env', 'FG_TEST_ONVIF_PW'], { FG_TEST_ONVIF_PW: PASSWORD });
  t.equal(text.code, 0);
  t.match(text.stdout, /Test Door \(FG-TEST-1\)/);
  t.match(text.stdout, /profile +main \(MainStream\): H264 160x120 5 fps/);
  t.ok(text.stdout.includes(`stream     ${rtsp.url('/test')}`));
});

t.test('a wrong password is ONVIF_AUTH, reported without the password', async (t) => {
  const d = await device(t, { rtspUrl: 'rtsp://127.0.0.1:9/none' });
  const wrong = 'Wrong-Pass-123';
  const r = await runCli(['cameras', 'discover', '--json', '--timeout', '1', '--host', `127.0.0.1:${d.discoveryPort}`, '--user', 'admin', '--password-env', 'FG_TEST_ONVIF_PW'], { FG_TEST_ONVIF_PW: wrong });
  const out = JSON.parse(r.stdout) as { cameras: CliCamera[] };
  t.equal(out.cameras[0].error?.code, 'ONVIF_AUTH');
  t.same(out.cameras[0].profiles, []);
  t.same(d.log, [{ op: 'GetServices', ok: false }], 'refused at the first request, no retry without credentials');
  t.notOk(r.stdout.includes(wrong) || r.stderr.includes(wrong));
  const noCreds = await runCli(['cameras', 'discover', '--json', '--timeout', '1', '--host', `127.0.0.1:${d.discoveryPort}`], {});
  t.match(JSON.parse(noCreds.stdout), { cameras: [{ error: { code: 'ONVIF_AUTH', hint: /--user/ } }] });
  const badArgs = await runCli(['cameras', 'discover', '--host', `127.0.0.1:${d.discoveryPort}`, '--user', 'admin', '--password-env', 'FG_TEST_UNSET_VAR'], {});
  t.equal(badArgs.code, 1);
  t.match(badArgs.stderr, /FG_TEST_UNSET_VAR is not set/);
});

t.test('an older device without GetServices: the media address from GetCapabilities', async (t) => {
  const d = await device(t, { rtspUrl: 'rtsp://127.0.0.1:8554/old', noGetServices: true });
  const cams = await discoverCameras({ timeoutMs: 800, targets: [{ host: '127.0.0.1', port: d.discoveryPort }], credentials: { user: 'admin', password: PASSWORD } });
  t.equal(cams.length, 1);
  t.equal(cams[0].error, undefined);
  t.equal(cams[0].profiles[0].streamUri, 'rtsp://127.0.0.1:8554/old');
  t.same(
    d.log.slice(0, 2).map((l) => l.op),
    ['GetServices', 'GetCapabilities'],
  );
});

t.test('nothing answers: an empty list and exit code 1', async (t) => {
  const r = await runCli(['cameras', 'discover', '--timeout', '0.5', '--host', '127.0.0.1:9'], {});
  t.equal(r.code, 1);
  t.match(r.stderr, /no ONVIF camera answered within 0.5 s/);
});

// In the namespace: loopback up with multicast on and the multicast route on it.
const NS_SETUP = 'ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo';
const ns = spawnSync('unshare', ['--net', 'bash', '-c', NS_SETUP], { encoding: 'utf8' });
const nsSkip = ns.status === 0 ? false : `a network namespace with multicast on lo cannot be made here (unshare --net + ip: ${(ns.stderr || ns.error?.message || 'unknown').trim()}): the multicast path runs only inside one`;

t.test('multicast discovery inside a network namespace of its own', { skip: nsSkip }, async (t) => {
  // The device joins 239.255.255.250:3702 in the namespace; the probe goes to the group, not to a host.
  const script = `
    import { startOnvifDevice } from ${JSON.stringify(resolve('test/helpers/onvif-device.ts'))};
    import { discoverCameras } from ${JSON.stringify(resolve('src/onvif/index.ts'))};
    const d = await startOnvifDevice({ user: 'admin', password: process.env.PW, discovery: 'multicast', rtspUrl: 'rtsp://127.0.0.1:8554/ns' });
    const cams = await discoverCameras({ timeoutMs: 1000, multicastInterface: '127.0.0.1', credentials: { user: 'admin', password: process.env.PW } });
    console.log(JSON.stringify({ cams, probes: d.probes, port: d.discoveryPort }));
    await d.close();
  `;
  const r = spawnSync('unshare', ['--net', 'bash', '-c', `${NS_SETUP} && exec "${process.execPath}" --import tsx --input-type=module -e "$SCRIPT"`], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SCRIPT: script, PW: PASSWORD },
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { cams: CliCamera[]; probes: number; port: number };
  t.equal(out.port, 3702, 'the device listened on the WS-Discovery port');
  t.equal(out.probes, 1, 'the multicast probe reached it');
  t.equal(out.cams.length, 1);
  t.equal(out.cams[0].profiles[0].streamUri, 'rtsp://127.0.0.1:8554/ns');
});

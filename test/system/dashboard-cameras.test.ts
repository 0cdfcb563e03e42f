/**
 * The Cameras page and the gate editor in a real browser (Debian chromium via playwright-core)
 * against a real facegate running from a real YAML file, a real RTSP camera with a password on
 * loopback and the in-test ONVIF device that points at it:
 * - viewer and operator: no Cameras or Gate editor link, the page says it is for admins, and the
 *   routes answer 403;
 * - admin: discovers the camera (directed ONVIF probe), probes it (its size shows), drags a zone on
 *   the snapshot, saves; the camera comes up on Live and is in the YAML file with the file's
 *   comments kept; an invalid edit (fps 500) shows config check's path; a save after the file
 *   changed underneath shows the conflict, and "Reload and retry" saves on top of the new file;
 * - the gate editor adds a gate on that camera and zone with a schedule and a command actuation;
 *   "Test actuation" runs the command; removing a camera a gate still uses shows why not; the gate
 *   and then the camera are removed.
 * Screenshots of the wizard and the gate editor are written to docs/img/ (docs/dashboard.md).
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { parse as parseYaml } from 'yaml';
import { sha256Hex } from '../../src/api/auth.ts';
import { startService, type Service } from '../../src/app/service.ts';
import { parseConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { chromiumAvailable, launchBrowser, openPage, type PageProbe, servedDashboard } from '../helpers/browser.ts';
import { startOnvifDevice } from '../helpers/onvif-device.ts';
import { RtspTestServer } from '../helpers/rtsp.ts';

const VIEWER = 'cams-viewer-token-0123456789';
const OPERATOR = 'cams-operator-token-0123456789';
const ADMIN = 'cams-admin-token-0123456789';
const PASSWORD = 'P0rch-Cam-Secret';
const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const DOC_IMG = join(ROOT, 'docs/img');

t.test('Cameras page and gate editor in a browser against a real facegate', { skip: chromiumAvailable() ? false : 'no /usr/bin/chromium (scripts/setup.sh installs it)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-dash-cams-'));
  mkdirSync(DOC_IMG, { recursive: true });
  await servedDashboard(t, join(dir, 'web'));
  const rtsp = await RtspTestServer.start({ width: 640, height: 360, fps: 5, auth: `admin:${PASSWORD}` });
  const onvif = await startOnvifDevice({ user: 'admin', password: PASSWORD, discovery: 'directed', rtspUrl: rtsp.url('/test'), name: 'Porch Camera' });
  const actuated = join(dir, 'actuated.txt');
  const file = join(dir, 'facegate.yaml');
  const original = `# the box at the porch: edited from the dashboard, and by hand
server:
  port: 0 # any free port
auth:
  tokens:
    - { id: cams-viewer, role: viewer, sha256: ${sha256Hex(VIEWER)} }
    - { id: cams-operator, role: operator, sha256: ${sha256Hex(OPERATOR)} }
    - { id: cams-admin, role: admin, sha256: ${sha256Hex(ADMIN)} }
gallery:
  db: ${join(dir, 'gallery.sqlite')}
events:
  db: ${join(dir, 'events.sqlite')}
  snapshots:
    dir: ${join(dir, 'snapshots')} # face and frame JPEGs
# cameras come from the dashboard's wizard
cameras: []
gates: []
`;
  writeFileSync(file, original, { mode: 0o600 });
  let service: Service | undefined = await startService(parseConfig(parseYaml(original)), { logger: createLogger({ level: 'error' }), configFile: file });
  const base = service.api.url;
  let browser: Browser | undefined;
  const probes: PageProbe[] = [];
  t.teardown(async () => {
    for (const p of probes) await p.context.close().catch(() => undefined);
    await browser?.close();
    await service?.close();
    service = undefined;
    await onvif.close();
    await rtsp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  browser = await launchBrowser();
  const signIn = async (p: Page, token: string) => {
    await p.goto(`${base}/`);
    await p.getByLabel('Token').fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('link', { name: 'Live' }).waitFor();
  };
  const call = (path: string, token: string, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

  await t.test('viewer and operator: no Cameras page, no gate editor, 403 on the routes', async (t) => {
    for (const token of [VIEWER, OPERATOR]) {
      const v = await openPage(browser as Browser);
      probes.push(v);
      await signIn(v.page, token);
      t.equal(await v.page.getByRole('link', { name: 'Cameras' }).count(), 0, 'no Cameras link');
      t.equal(await v.page.getByRole('link', { name: 'Gate editor' }).count(), 0, 'no Gate editor link');
      await v.page.goto(`${base}/#/cameras`);
      await v.page.getByRole('alert').filter({ hasText: 'The Cameras page is for admins' }).waitFor();
      await v.page.goto(`${base}/#/gate-editor`);
      await v.page.getByRole('alert').filter({ hasText: 'The gate editor is for admins' }).waitFor();
      t.equal(await v.page.getByRole('button', { name: 'Add camera' }).count(), 0);
      for (const [method, path] of [
        ['POST', '/v1/cameras/probe'],
        ['POST', '/v1/cameras/discover'],
        ['GET', '/v1/config/entries'],
        ['GET', '/v1/config'],
        ['PUT', '/v1/config/cameras/x'],
        ['PUT', '/v1/config/gates/x'],
        ['POST', '/v1/gates/x/test-actuation'],
      ] as const) {
        const r = await call(path, token, { method, ...(method === 'GET' ? {} : { body: JSON.stringify({ url: rtsp.url('/test') }) }), headers: { 'if-match': '*' } });
        t.equal(r.status, 403, `${method} ${path}: 403`);
      }
      await v.context.close();
    }
  });

  await t.test('admin: discover, probe, draw a zone, save; the camera comes up on Live and is in the YAML with its comments', async (t) => {
    const a = await openPage(browser as Browser, { viewport: { width: 1360, height: 1000 } });
    probes.push(a);
    const { page } = a;
    await signIn(page, ADMIN);
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByText('No camera in the config file yet.').waitFor();
    await page.getByRole('button', { name: 'Add camera' }).click();
    await page.getByLabel('Username', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel(/^Camera host/).fill(`127.0.0.1:${onvif.discoveryPort}`);
    await page.getByRole('button', { name: 'Discover' }).click();
    await page.getByRole('button', { name: 'Use Porch Camera MainStream' }).click();
    t.equal(await page.getByLabel('Stream URL', { exact: true }).inputValue(), rtsp.url('/test'), 'the stream URI from ONVIF is in Stream URL');
    t.equal(await page.getByLabel('Camera id', { exact: true }).inputValue(), 'porch-camera');
    t.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Porch Camera');

    await page.getByRole('button', { name: 'Probe' }).click();
    await page.locator('[data-probe=ok] .probe-size').filter({ hasText: '640x360' }).waitFor({ timeout: 30_000 });
    t.pass('Probe shows the size');
    t.match(await page.locator('[data-probe=ok]').innerText(), /h264[\s\S]*5 fps/);
    const canvas = page.getByTestId('zone-canvas');
    await canvas.locator('img').waitFor();
    const box = await canvas.boundingBox();
    if (!box) throw new Error('no zone canvas');
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.1);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 4 });
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height * 0.9, { steps: 4 });
    await page.mouse.up();
    await page.getByLabel('Zone 1 id').fill('door-area');
    await page.getByLabel('Frames per second').fill('4');
    const idle = page.getByRole('checkbox', { name: 'Decode only key frames while the doorway is idle' });
    t.ok(await idle.isChecked(), 'idle decoding is on by default for a new h264 rtsp camera');
    t.ok(await idle.isEnabled(), 'and can be turned off');
    t.match(await page.locator('fieldset.idle-decode').innerText(), /Saves most of an idle camera's CPU/, 'with why');
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(DOC_IMG, 'dashboard-camera-wizard.png'), fullPage: true });

    await page.getByRole('button', { name: 'Save camera' }).click();
    await page.getByRole('status').filter({ hasText: 'Camera porch-camera saved' }).waitFor({ timeout: 15_000 });
    const text = readFileSync(file, 'utf8');
    t.ok(text.includes('# the box at the porch: edited from the dashboard, and by hand'), 'the file keeps its first comment');
    t.ok(text.includes('# face and frame JPEGs'), 'and its line comments');
    const doc = parseYaml(text) as { cameras: Array<Record<string, unknown>> };
    t.equal(doc.cameras.length, 1);
    const cam = doc.cameras[0];
    t.match(cam, { id: 'porch-camera', name: 'Porch Camera', url: rtsp.url('/test', `admin:${PASSWORD}`), decoder: 'cpu', fps: 4, motion: { idleDecode: 'keyframes' } });
    const zone = (cam.zones as Array<{ id: string; polygon: number[][] }>)[0];
    t.equal(zone.id, 'door-area');
    t.equal(zone.polygon.length, 4);
    t.ok(Math.abs(zone.polygon[0][0] - 0.2) < 0.02 && Math.abs(zone.polygon[0][1] - 0.1) < 0.02 && Math.abs(zone.polygon[2][0] - 0.8) < 0.02 && Math.abs(zone.polygon[2][1] - 0.9) < 0.02, `the dragged rectangle in normalised coordinates: ${JSON.stringify(zone.polygon)}`);

    // The list shows it without the password; it comes up on Live.
    await page.locator('tr[data-camera="porch-camera"]').waitFor();
    t.notOk((await page.locator('table.cameras').innerText()).includes(PASSWORD), 'the list never shows the password');
    await page.getByRole('link', { name: 'Live' }).click();
    await page.locator('img[alt="latest frame of Porch Camera"]').waitFor({ timeout: 30_000 });
    t.pass('the new camera comes up on Live');
    t.notOk(a.urls.some((u) => u.includes(PASSWORD) || u.includes(ADMIN)), 'no password or token in any URL the page requested');
  });

  await t.test('admin: an invalid edit shows the problem; a file changed underneath shows the conflict, then reload and retry', async (t) => {
    const a = probes[probes.length - 1];
    const { page } = a;
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('button', { name: 'Edit porch-camera' }).click();
    t.equal(await page.getByLabel('Stream URL', { exact: true }).inputValue(), rtsp.url('/test', '***'), 'the edit form shows the URL redacted');
    t.ok(await page.getByRole('checkbox', { name: 'Decode only key frames while the doorway is idle' }).isChecked(), 'the edit form shows idle decoding as saved');
    const before = readFileSync(file, 'utf8');
    await page.getByLabel('Frames per second').fill('500');
    await page.getByRole('button', { name: 'Save camera' }).click();
    const invalid = page.locator('[data-outcome=invalid]');
    await invalid.waitFor();
    t.match(await invalid.innerText(), /cameras\[0\]\.fps/, 'the path of the problem, as config check says it');
    t.equal(readFileSync(file, 'utf8'), before, 'nothing written');

    await page.getByLabel('Frames per second').fill('3');
    appendFileSync(file, '# edited by hand while the page was open\n');
    await page.getByRole('button', { name: 'Save camera' }).click();
    const conflict = page.locator('[data-outcome=conflict]');
    await conflict.waitFor();
    t.match(await conflict.innerText(), /changed since this page read it/);
    await page.getByRole('button', { name: 'Reload and retry' }).click();
    await page.getByRole('status').filter({ hasText: 'Camera porch-camera saved' }).waitFor({ timeout: 15_000 });
    const text = readFileSync(file, 'utf8');
    t.ok(text.includes('# edited by hand while the page was open'), 'the change made underneath is kept');
    const cam = (parseYaml(text) as { cameras: Array<Record<string, unknown>> }).cameras[0];
    t.equal(cam.fps, 3, 'and the edit is saved on top of it');
    t.same(cam.motion, { idleDecode: 'keyframes' }, 'idle decoding kept through the edit');
    t.equal(cam.url, rtsp.url('/test', `admin:${PASSWORD}`), 'the redacted URL sent back kept the password');
  });

  await t.test('cameras written without idleDecode: shown as the default, left out on save; unavailable for a test pattern, with why', async (t) => {
    const a = probes[probes.length - 1];
    const { page } = a;
    // Two cameras as a hand-written file would have them: no motion section at all.
    const put = async (entry: Record<string, unknown> & { id: string }) => {
      const { version } = (await (await call('/v1/config/entries', ADMIN)).json()) as { version: string };
      const r = await call(`/v1/config/cameras/${entry.id}`, ADMIN, { method: 'PUT', headers: { 'if-match': `"${version}"` }, body: JSON.stringify(entry) });
      t.equal(r.status, 200, `${entry.id} written by hand (through the API)`);
    };
    await put({ id: 'side-door', url: rtsp.url('/test', `admin:${PASSWORD}`), fps: 1 });
    await put({ id: 'bars', source: { kind: 'test', width: 160, height: 120, fps: 2 }, fps: 1 });
    const camerasInFile = () => (parseYaml(readFileSync(file, 'utf8')) as { cameras: Array<Record<string, unknown>> }).cameras;
    const idle = page.getByRole('checkbox', { name: 'Decode only key frames while the doorway is idle' });

    await page.getByRole('link', { name: 'Live' }).click();
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('button', { name: 'Edit side-door' }).click();
    t.notOk(await idle.isChecked(), 'absent in the file: shown off (the schema default decodes every frame)');
    await page.locator('[data-idle-decode=default]').filter({ hasText: 'Not set in the config file' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Side door');
    await page.getByRole('button', { name: 'Save camera' }).click();
    await page.getByRole('status').filter({ hasText: 'Camera side-door saved' }).waitFor({ timeout: 15_000 });
    let side = camerasInFile().find((c) => c.id === 'side-door');
    t.equal(side?.name, 'Side door', 'the edit is saved');
    t.notOk(side && 'motion' in side, 'idleDecode not written: the camera keeps the default it had');

    await page.getByRole('button', { name: 'Edit bars' }).click();
    t.notOk(await idle.isChecked(), 'a test pattern: off');
    t.ok(await idle.isDisabled(), 'and cannot be switched on');
    t.match(await page.locator('[data-idle-decode=unavailable]').innerText(), /needs a compressed stream \(an rtsp or file source\), not a test source/, 'the config check\'s reason is shown');
    await page.getByLabel('Frames per second').fill('2');
    await page.getByRole('button', { name: 'Save camera' }).click();
    await page.getByRole('status').filter({ hasText: 'Camera bars saved' }).waitFor({ timeout: 15_000 });
    const bars = camerasInFile().find((c) => c.id === 'bars');
    t.equal(bars?.fps, 2);
    t.notOk(bars && 'motion' in bars, 'nothing about idle decoding written for it');

    // Switched on by the user: written.
    await page.getByRole('button', { name: 'Edit side-door' }).click();
    await idle.check();
    await page.getByRole('button', { name: 'Save camera' }).click();
    await page.getByRole('status').filter({ hasText: 'Camera side-door saved' }).waitFor({ timeout: 15_000 });
    side = camerasInFile().find((c) => c.id === 'side-door');
    t.same(side?.motion, { idleDecode: 'keyframes' }, 'switched on in the form: written');

    for (const id of ['side-door', 'bars']) {
      await page.getByRole('button', { name: `Remove ${id}` }).click();
      await page.getByRole('button', { name: 'Remove camera' }).click();
      await page.getByRole('status').filter({ hasText: `Camera ${id} removed` }).waitFor({ timeout: 15_000 });
    }
    t.same(camerasInFile().map((c) => c.id), ['porch-camera'], 'only the wizard\'s camera is left');
  });

  await t.test('gate editor: add a gate with a zone, schedule and command actuation; test actuation; a camera in use cannot be removed; remove both', async (t) => {
    const a = probes[probes.length - 1];
    const { page } = a;
    await page.getByRole('link', { name: 'Gate editor' }).click();
    await page.getByText('No gate in the config file yet.').waitFor();
    await page.getByRole('button', { name: 'Add gate' }).click();
    await page.getByLabel('Gate id').fill('porch');
    await page.getByLabel('Gate name').fill('Porch');
    await page.getByRole('checkbox', { name: 'porch-camera' }).check();
    await page.getByLabel('Zone', { exact: true }).selectOption('door-area');
    await page.getByLabel(/^Allowed groups/).fill('staff, family');
    await page.getByRole('checkbox', { name: 'Always (no schedule)' }).uncheck();
    await page.getByLabel('Time zone').fill('Europe/Berlin');
    await page.getByRole('button', { name: 'Add holiday' }).click();
    await page.getByLabel('holiday 1 date').fill('2026-12-25');
    await page.getByLabel('Mask policy').selectOption('deny');
    await page.getByRole('checkbox', { name: /^Liveness required/ }).uncheck();
    await page.getByLabel(/^Command/).fill([process.execPath, '-e', "require('fs').writeFileSync(process.argv[1], 'opened')", actuated].join('\n'));
    await page.getByRole('button', { name: 'Save gate' }).click();
    await page.getByRole('status').filter({ hasText: 'Gate porch saved' }).waitFor({ timeout: 15_000 });
    const doc = parseYaml(readFileSync(file, 'utf8')) as { gates: Array<Record<string, unknown>> };
    t.match(doc.gates[0], {
      id: 'porch',
      name: 'Porch',
      cameras: ['porch-camera'],
      zone: 'door-area',
      allow: { groups: ['staff', 'family'] },
      schedule: { timeZone: 'Europe/Berlin', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '07:00', end: '19:00' }], exceptions: [{ date: '2026-12-25', closed: true }] },
      maskPolicy: 'deny',
      liveness: { required: false },
      actuation: { command: { argv: [process.execPath, '-e'] } },
    });
    t.notOk('confirmation' in doc.gates[0], 'defaults left untouched are not written');

    await page.getByRole('button', { name: 'Edit gate porch' }).click();
    await page.getByRole('button', { name: 'Test actuation' }).click();
    await page.locator('[data-test-actuation=ok]').waitFor({ timeout: 15_000 });
    t.equal(readFileSync(actuated, 'utf8'), 'opened', 'Test actuation ran the gate\'s command');
    t.match(await page.locator('[data-test-actuation=ok]').innerText(), /command: ok \(exit 0\)/);
    // From the top: a full-page shot of a scrolled page repeats the sticky header mid-page.
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(DOC_IMG, 'dashboard-gate-editor.png'), fullPage: true });
    await page.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('button', { name: 'Remove porch-camera' }).click();
    await page.getByRole('button', { name: 'Remove camera' }).click();
    const refused = page.locator('dialog [data-outcome=invalid]');
    await refused.waitFor();
    t.match(await refused.innerText(), /porch-camera/, 'the gate that still uses the camera is named');
    t.equal((parseYaml(readFileSync(file, 'utf8')) as { cameras: unknown[] }).cameras.length, 1, 'the camera stays');
    await page.keyboard.press('Escape');

    // The gate first, then the camera: both go, the file's comments stay.
    await page.getByRole('link', { name: 'Gate editor' }).click();
    await page.getByRole('button', { name: 'Remove gate porch' }).click();
    await page.getByRole('button', { name: 'Remove gate', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Gate porch removed' }).waitFor({ timeout: 15_000 });
    await page.getByRole('link', { name: 'Cameras' }).click();
    await page.getByRole('button', { name: 'Remove porch-camera' }).click();
    await page.getByRole('button', { name: 'Remove camera' }).click();
    await page.getByRole('status').filter({ hasText: 'Camera porch-camera removed' }).waitFor({ timeout: 15_000 });
    const after = readFileSync(file, 'utf8');
    t.match(parseYaml(after), { cameras: [], gates: [] }, 'removed from the file');
    t.ok(after.includes('# the box at the porch: edited from the dashboard, and by hand') && after.includes('# edited by hand while the page was open'), 'its comments kept');
    t.same(a.problems, [], 'no console errors or CSP violations');
    t.ok(existsSync(join(DOC_IMG, 'dashboard-camera-wizard.png')) && existsSync(join(DOC_IMG, 'dashboard-gate-editor.png')), 'screenshots for the docs');
  });
});

/**
 * The operator dashboard in a real browser (Debian chromium, headless, via playwright-core)
 * against a real facegate: gst-rtsp-server on loopback serves a door clip composed from real
 * photos (Angelina, a stranger, Jack), facegate runs the whole chain with the demo gallery
 * (Angelina is staff), and the dashboard bundle is built from web/src for the test.
 * - viewer: the live tile shows a frame within 10 s; a gate.granted row for Angelina with a face
 *   thumbnail appears in Events; no gate buttons; the API refuses the viewer's gate open (403).
 * - wrong token: a clear message on the sign-in page.
 * - admin: enrols Jack from two other photos through the People page -> the next pass of the clip
 *   recognises him; names an unknown cluster -> it becomes an identity.
 * - the server restarts under the page: the page reconnects, resumes with since, no duplicate rows.
 * Screenshots of every page go to the test's output folder (.facegate/test-out/dashboard).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { sha256Hex } from '../../src/api/auth.ts';
import { startService, type Service } from '../../src/app/service.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { doorClipKey, renderDoorClip } from '../../src/demo/door-clip.ts';
import { enrollDemoGallery } from '../../src/demo/demo.ts';
import { createLogger } from '../../src/log.ts';
import { chromiumAvailable, launchBrowser, openPage, type PageProbe, servedDashboard } from '../helpers/browser.ts';
import { DATA_DIR, dataPath } from '../helpers/data.ts';
import { RtspTestServer } from '../helpers/rtsp.ts';

const VIEWER = 'dash-viewer-token-0123456789';
const OPERATOR = 'dash-operator-token-0123456789';
const ADMIN = 'dash-admin-token-0123456789';
const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const CACHE = join(ROOT, '.facegate/test-cache');
const OUT = join(ROOT, '.facegate/test-out/dashboard');

t.test('operator dashboard in a browser against a real facegate', { skip: chromiumAvailable() ? false : 'no /usr/bin/chromium (scripts/setup.sh installs it)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-dash-'));
  mkdirSync(CACHE, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  const web = await servedDashboard(t, join(dir, 'web'));
  t.ok(web.jsGzipBytes < 150 * 1024, `bundle: ${(web.jsGzipBytes / 1024).toFixed(1)} kB of JS gzipped (< 150 kB)`);

  const visitors = [{ photo: dataPath('identities/deepface/angelina/img2.jpg') }, { photo: dataPath('identities/easyface/easyface_person_2/face_recognition_1.png') }, { photo: dataPath('identities/deepface/jack/img59.jpg') }];
  const clipOpts = { width: 1280, height: 720, fps: 10 };
  const clip = await renderDoorClip(visitors, join(CACHE, `door-${doorClipKey(visitors, clipOpts)}.mp4`), clipOpts);
  const rtsp = await RtspTestServer.start({ clip: clip.path, ...clipOpts });
  const galleryDb = join(dir, 'gallery.sqlite');
  await enrollDemoGallery(galleryDb, DATA_DIR);
  const allWeek = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' };
  const configAt = (port: number): Config =>
    parseConfig({
      server: { port },
      auth: {
        tokens: [
          { id: 'dash-viewer', role: 'viewer', sha256: sha256Hex(VIEWER) },
          { id: 'dash-operator', role: 'operator', sha256: sha256Hex(OPERATOR) },
          { id: 'dash-admin', role: 'admin', sha256: sha256Hex(ADMIN) },
        ],
      },
      cameras: [{ id: 'door', name: 'Front door', url: rtsp.url('/clip'), fps: 5 }],
      gates: [{ id: 'front-door', name: 'Front door', cameras: ['door'], liveness: { required: false }, allow: { groups: ['staff'] }, schedule: { timeZone: 'UTC', weekly: [allWeek] } }],
      gallery: { db: galleryDb },
      events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } },
      privacy: { requireConsent: true, consentNotice: 'The person agreed to face recognition at this door.' },
    });
  const logger = createLogger({ level: 'error' });
  let service: Service | undefined = await startService(configAt(0), { logger });
  const port = service.api.port;
  const base = service.api.url;
  let browser: Browser | undefined;
  const probes: PageProbe[] = [];
  t.teardown(async () => {
    for (const p of probes) await p.context.close().catch(() => undefined);
    await browser?.close();
    await service?.close();
    await rtsp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // The page and its assets: strict CSP, long-cache hashed assets, no token needed for the bundle.
  const index = await fetch(`${base}/`);
  t.equal(index.status, 200, 'GET / serves the dashboard');
  const csp = index.headers.get('content-security-policy') ?? '';
  t.match(csp, /script-src 'self'/, 'CSP: scripts from this origin only');
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'CSP: no inline script, no eval');
  const html = await index.text();
  const asset = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
  t.ok(asset, 'index.html loads a hashed bundle');
  const js = await fetch(`${base}${asset}`, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable', 'hashed assets are cached for a year');
  t.equal(index.headers.get('cache-control'), 'no-cache', 'the page itself is revalidated');
  t.notMatch(html, /<script>/, 'no inline script in the page');

  browser = await launchBrowser();
  const signIn = async (p: Page, token: string) => {
    await p.goto(`${base}/`);
    await p.getByLabel('Token').fill(token);
    await p.getByRole('button', { name: 'Sign in' }).click();
  };
  const shot = (p: Page, name: string) => p.screenshot({ path: join(OUT, `${name}.png`) });

  await t.test('viewer: live frame within 10 s, granted row for Angelina with a thumbnail, no gate buttons, 403 from the API', async (t) => {
    const v = await openPage(browser as Browser);
    probes.push(v);
    const { page } = v;
    await signIn(page, VIEWER);
    const t0 = Date.now();
    await page.locator('img[alt="latest frame of Front door"]').waitFor({ timeout: 10_000 });
    t.pass(`the door camera's live tile shows a frame after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const frame = await fetch(`${base}/v1/cameras/door/frame`, { headers: { authorization: `Bearer ${VIEWER}` } });
    t.equal(frame.headers.get('content-type'), 'image/jpeg', 'the frame endpoint serves a JPEG');
    t.equal((await fetch(`${base}/v1/cameras/door/frame`)).status, 401, 'the frame endpoint needs a token');

    await page.getByRole('link', { name: 'Events' }).click();
    const granted = page.locator('tr[data-type="gate.granted"]', { hasText: 'Angelina' }).first();
    await granted.waitFor({ timeout: clip.durationMs + 30_000 });
    await granted.locator('img.thumb').waitFor({ timeout: 10_000 });
    t.pass('a gate.granted row for Angelina with her face thumbnail');
    await shot(page, 'events');
    await page.getByRole('link', { name: 'Live' }).click();
    await page.locator('img[alt="latest frame of Front door"]').waitFor({ timeout: 10_000 });
    await page.locator('.fps', { hasText: 'processed' }).waitFor({ timeout: 5000 }); // two samples of the counters
    // Angelina's track is usually still alive just after her grant: her label, if so, is in the shot.
    await page.locator('.tracks li', { hasText: 'Angelina' }).first().waitFor({ timeout: 3000 }).catch(() => undefined);
    await shot(page, 'live');

    await page.getByRole('link', { name: 'Gates' }).click();
    await page.getByRole('heading', { name: 'Front door' }).waitFor();
    t.equal(await page.getByRole('button', { name: /^(Open|Hold open|Close)$/ }).count(), 0, 'a viewer gets no gate buttons');
    await shot(page, 'gates-viewer');
    const open = await fetch(`${base}/v1/gates/front-door/open`, { method: 'POST', headers: { authorization: `Bearer ${VIEWER}`, 'content-type': 'application/json' }, body: '{"reason":"test"}' });
    t.equal(open.status, 403, 'the API refuses a gate open with the viewer token');

    await page.getByRole('link', { name: 'System' }).click();
    await page.getByText('Execution provider').waitFor();
    await page.getByRole('rowheader', { name: 'detect', exact: true }).first().waitFor({ timeout: 10_000 });
    await shot(page, 'system');

    t.same(v.problems, [], 'no console errors or CSP violations');
    t.notOk(v.urls.some((u) => u.includes(VIEWER)), 'the token never appears in a URL');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    t.equal(await page.evaluate('sessionStorage.length'), 0, 'sign out clears the token');
  });

  await t.test('operator: gate buttons, a manual open is audited', async (t) => {
    const o = await openPage(browser as Browser);
    probes.push(o);
    await signIn(o.page, OPERATOR);
    await o.page.getByRole('link', { name: 'Gates' }).click();
    await o.page.getByLabel('Reason').fill('delivery at the front door');
    await o.page.getByRole('button', { name: 'Open', exact: true }).click();
    await o.page.getByText('open sent').waitFor();
    const row = o.page.locator('li[data-gate="front-door"] .decisions li', { hasText: 'opened' }).first();
    await row.waitFor({ timeout: 10_000 });
    t.pass('the manual open comes back as a gate.opened decision');
    await shot(o.page, 'gates');
    const audited = service?.log.query({ types: ['gate.opened'] }) ?? [];
    t.match(audited[audited.length - 1]?.data, { action: 'open', by: 'dash-operator', reason: 'delivery at the front door' }, 'gate.opened names the operator and the reason');
  });

  await t.test('wrong token, then admin: enrol Jack from two photos -> recognised on the next pass; name an unknown cluster', async (t) => {
    const a = await openPage(browser as Browser);
    probes.push(a);
    const { page } = a;
    await signIn(page, 'not-a-token');
    await page.getByRole('alert').filter({ hasText: 'that token is not valid' }).waitFor();
    t.pass('a wrong token gets a clear message on the sign-in page');
    await shot(page, 'signin-wrong-token');
    a.problems.length = 0; // the refused /v1/me is logged by chromium as a failed resource

    // By keyboard: the token field has the focus, Enter signs in, the page links are reachable.
    await page.getByLabel('Token').fill(ADMIN);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'People' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Angelina' }).waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Jack');
    await page.getByLabel('Groups (comma-separated)').fill('staff');
    await page.getByLabel('Photos', { exact: true }).setInputFiles([dataPath('identities/deepface/jack/img16.jpg'), dataPath('identities/deepface/jack/img17.jpg')]);
    const since = service?.log.lastId() ?? 0;
    // This box requires consent: without the box ticked nothing is sent.
    await page.getByRole('button', { name: 'Enrol' }).click();
    await page.getByRole('alert').filter({ hasText: 'consent' }).waitFor();
    t.equal(await page.locator('.verdicts li').count(), 0, 'no upload without consent');
    await page.getByRole('checkbox', { name: /agreed to face recognition/ }).check();
    await page.getByRole('button', { name: 'Enrol' }).click();
    await page.locator('.verdicts li').nth(1).waitFor({ timeout: 60_000 });
    const verdicts = await page.locator('.verdicts li').allTextContents();
    t.equal(verdicts.length, 2, `one verdict per photo: ${verdicts.join(' | ')}`);
    t.ok(verdicts.every((v) => /accepted/.test(v)), 'both photos accepted');
    await page.getByRole('heading', { name: 'Jack' }).waitFor();
    await page.locator('li[data-identity]', { hasText: 'Jack' }).locator('img.thumb').first().waitFor({ timeout: 10_000 });
    await shot(page, 'people');
    const created = service?.log.query({ types: ['identity.created'] }).find((e) => (e.data as { name?: string }).name === 'Jack');
    t.match(created?.data, { actor: 'dash-admin', consent: { method: 'dashboard', text: 'The person agreed to face recognition at this door.' } }, 'the consent the admin confirmed is recorded and audited');
    // A photo of someone already enrolled, under a new name: refused with who it looks like.
    await page.getByRole('checkbox', { name: /agreed to face recognition/ }).check();
    await page.getByLabel('Name', { exact: true }).fill('Not Angelina');
    await page.getByLabel('Photos', { exact: true }).setInputFiles([dataPath('identities/deepface/angelina/img4.jpg')]);
    await page.getByRole('button', { name: 'Enrol' }).click();
    await page.getByText('No photo was accepted').waitFor({ timeout: 60_000 });
    t.match(await page.locator('.verdicts li').first().textContent(), /^img4\.jpg: rejected: looks like Angelina \(similarity 0\.\d\d\)/, 'a look-alike photo is rejected naming the person it looks like');
    t.equal(await page.getByRole('heading', { name: 'Not Angelina' }).count(), 0, 'and nobody is enrolled');

    // Unknown clusters: the stranger (and Jack, before he was enrolled) came up as unknowns.
    await page.getByRole('link', { name: 'Unknowns' }).click();
    // The stranger's cluster: the first face.unknown of the log (the clip's second visitor; Jack,
    // the third, was an unknown too before his enrolment, and his faces now look like Jack).
    const firstUnknown = service?.log.query({ types: ['face.unknown'], limit: 1 })[0];
    const unknownId = (firstUnknown?.data as { unknownId?: string } | undefined)?.unknownId;
    t.ok(unknownId, `the stranger is unknown ${unknownId}`);
    const card = page.locator(`li[data-unknown="${unknownId}"]`);
    await card.waitFor({ timeout: 30_000 });
    await shot(page, 'unknowns');
    await card.getByLabel('Name', { exact: true }).fill('Regular Visitor');
    t.ok(await card.getByRole('button', { name: 'Name this person' }).isDisabled(), 'naming waits for the consent box (requireConsent)');
    await card.getByRole('checkbox', { name: /agreed to face recognition/ }).check();
    await card.getByRole('button', { name: 'Name this person' }).click();
    await page.getByText(`${unknownId} is now Regular Visitor`).waitFor({ timeout: 60_000 });
    const ids = (await (await fetch(`${base}/v1/identities`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { identities: { id: string; name: string; templateTotal: number }[] };
    const named = ids.identities.find((i) => i.name === 'Regular Visitor');
    t.ok(named, `the named cluster ${unknownId} is an identity`);
    const photos = (await (await fetch(`${base}/v1/identities/${named?.id}/photos`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { photos: unknown[] };
    t.ok(photos.photos.length >= 1 && (named?.templateTotal ?? 0) > 1, `with the cluster's faces as photos and templates (${photos.photos.length} photos, ${named?.templateTotal} templates)`);
    t.notOk((await page.locator(`li[data-unknown="${unknownId}"]`).count()) > 0, 'and is no longer listed as unknown');

    // An erasure request from the People page: the identity goes, with a receipt, and the audit names no one.
    await page.getByRole('link', { name: 'People' }).click();
    const visitor = page.locator('li[data-identity]', { hasText: 'Regular Visitor' });
    await visitor.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('button', { name: 'Erase everything about Regular Visitor' }).click();
    await page.getByRole('status').filter({ hasText: 'Regular Visitor erased' }).waitFor({ timeout: 30_000 });
    await page.locator('li[data-identity]', { hasText: 'Regular Visitor' }).waitFor({ state: 'detached', timeout: 10_000 });
    t.pass('erased from the People page');
    const erased = service?.log.query({ types: ['identity.erased'] });
    t.equal(erased?.length, 1, 'one identity.erased receipt');
    t.notMatch(JSON.stringify(erased), /Regular Visitor/, 'the receipt does not name the person');

    // The next pass of the clip: Jack recognised.
    await page.getByRole('link', { name: 'Events' }).click();
    const jack = page.locator('tr[data-type="face.recognized"]', { hasText: 'Jack' }).first();
    await jack.waitFor({ timeout: 2 * clip.durationMs + 45_000 });
    await page.waitForTimeout(500); // thumbnails load
    await shot(page, 'events-later');
    const recognized = service?.log.since(since, { types: ['face.recognized'] }, 1000) ?? [];
    t.ok(
      recognized.some((e) => (e.data as { name?: string }).name === 'Jack'),
      'Jack, enrolled through the page, is recognised on the next pass',
    );
    t.same(a.problems, [], 'no console errors or CSP violations');
  });

  await t.test('the server restarts under the page: it reconnects, no duplicate rows', async (t) => {
    const r = await openPage(browser as Browser);
    probes.push(r);
    const { page } = r;
    await signIn(page, VIEWER);
    await page.getByRole('link', { name: 'Events' }).click();
    await page.getByLabel('Type').selectOption('all');
    await page.locator('tr[data-event-id]').first().waitFor();
    const before = await page.locator('tr[data-event-id]').count();
    await service?.close();
    service = undefined;
    await page.getByText('reconnecting…').first().waitFor({ timeout: 15_000 });
    t.pass('the page shows the stream is reconnecting');
    service = await startService(configAt(port), { logger });
    const lastBefore = Number(await page.locator('tr[data-event-id]').first().getAttribute('data-event-id'));
    // New events after the restart (camera.up at least) arrive over the new connection.
    await page.locator('tr[data-event-id]').first().and(page.locator(`tr:not([data-event-id="${lastBefore}"])`)).waitFor({ timeout: 60_000 });
    await page.getByText('live', { exact: true }).waitFor({ timeout: 30_000 });
    const ids = (await page.locator('tr[data-event-id]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-event-id')))));
    t.ok(ids.length > before, `more rows after the restart (${before} -> ${ids.length})`);
    t.equal(new Set(ids).size, ids.length, 'no duplicate rows');
    t.ok(ids.every((id, i) => i === 0 || id < ids[i - 1]), 'newest first, strictly ordered');
    // Older events from GET /v1/events until there are none left: still no duplicate.
    const older = page.getByRole('button', { name: /older events/ });
    for (let i = 0; i < 20 && (await older.isEnabled()); i++) {
      await older.click();
      await page.getByRole('button', { name: /^(Load older events|No older events)$/ }).waitFor();
    }
    await page.getByRole('button', { name: 'No older events' }).waitFor();
    const all = await page.locator('tr[data-event-id]').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-event-id'))));
    t.equal(new Set(all).size, all.length, `paging back to the first event adds no duplicate (${all.length} rows)`);
    t.equal(Math.min(...all), 1, 'down to the first event of the log');
  });

  await t.test('camera down and token revoked are shown, not swallowed', async (t) => {
    const r = await openPage(browser as Browser);
    probes.push(r);
    const { page } = r;
    await signIn(page, VIEWER);
    await page.locator('img[alt="latest frame of Front door"]').waitFor({ timeout: 15_000 });
    await rtsp.stop();
    await page.locator('.tile .stale, .tile .noframe').filter({ hasText: /no frame for \d+ s/ }).waitFor({ timeout: 20_000 });
    t.pass('the live tile says the camera has sent no frame for a while');
    await page.locator('.tile .pill', { hasText: /^(down|stalled)$/ }).waitFor({ timeout: 30_000 });
    t.pass('and its health turns down / stalled');
    await shot(page, 'live-camera-down');
    // The viewer token is removed from the config (hot reload): the next API call signs the page out.
    const current = service?.config();
    if (!current) throw new Error('service not running');
    const next: Config = { ...current, auth: { ...current.auth, tokens: current.auth.tokens.filter((x) => x.id !== 'dash-viewer') } };
    await service?.update(next);
    await page.getByRole('alert').filter({ hasText: 'no longer accepted' }).waitFor({ timeout: 10_000 });
    await page.getByLabel('Token').waitFor();
    t.pass('a revoked token signs the page out with a message');
    await shot(page, 'signin-revoked');
  });
});

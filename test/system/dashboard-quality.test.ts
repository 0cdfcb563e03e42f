/**
 * The decision-quality tools of the dashboard in a real browser (Debian chromium via
 * playwright-core) against a real facegate with real photos and models:
 * - People: a too-small photo is refused with the check, the measured eye distance and the limit;
 *   a look-alike is refused naming the person, and "Enrol anyway" enrols it.
 * - Events: an operator marks a wrong recognition (Stuart's face recognised as Howard) "Not this
 *   person": the identity gets a negative anchor, audited as identity.updated.
 * - System: the calibration panel shows the thresholds in force and the closest stranger.
 * Screenshots go to .facegate/test-out/dashboard-quality.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { sha256Hex } from '../../src/api/auth.ts';
import { startService, type Service } from '../../src/app/service.ts';
import { parseConfig } from '../../src/config/index.ts';
import { SnapshotStore } from '../../src/events/index.ts';
import { createLogger } from '../../src/log.ts';
import { chromiumAvailable, launchBrowser, openPage, type PageProbe, servedDashboard } from '../helpers/browser.ts';
import { bbtPhoto } from '../helpers/gallery-real.ts';

const OPERATOR = 'dq-operator-token-0123456789';
const ADMIN = 'dq-admin-token-0123456789abc';
const ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const OUT = join(ROOT, '.facegate/test-out/dashboard-quality');

t.test('quality tools in the dashboard', { skip: chromiumAvailable() ? false : 'no /usr/bin/chromium (scripts/setup.sh installs it)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-dq-'));
  mkdirSync(OUT, { recursive: true });
  await servedDashboard(t, join(dir, 'web'));
  const snapshotsDir = join(dir, 'snapshots');
  const config = parseConfig({
    server: { port: 0 },
    auth: {
      tokens: [
        { id: 'dq-operator', role: 'operator', sha256: sha256Hex(OPERATOR) },
        { id: 'dq-admin', role: 'admin', sha256: sha256Hex(ADMIN) },
      ],
    },
    cameras: [],
    gallery: { db: join(dir, 'gallery.sqlite') },
    events: { db: join(dir, 'events.sqlite'), snapshots: { dir: snapshotsDir } },
  });
  const service: Service = await startService(config, { logger: createLogger({ level: 'error' }) });
  const base = service.api.url;
  let browser: Browser | undefined;
  const probes: PageProbe[] = [];
  t.teardown(async () => {
    for (const p of probes) await p.context.close().catch(() => undefined);
    await browser?.close();
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // Howard (photos 1-4) and Penny (photo 1) through the API.
  const enroll = async (path: string, photo: string): Promise<{ identity?: { id: string }; ok?: boolean }> => {
    const r = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'image/png' }, body: readFileSync(photo) });
    return (await r.json()) as { identity?: { id: string } };
  };
  const howard = (await enroll('/v1/identities?name=Howard', bbtPhoto('howard', 1))).identity?.id as string;
  for (const n of [2, 3, 4]) await enroll(`/v1/identities/${howard}/photos`, bbtPhoto('howard', n));
  t.ok((await enroll('/v1/identities?name=Penny', bbtPhoto('penny', 1))).identity, 'Penny enrolled');

  browser = await launchBrowser();
  const signIn = async (token: string): Promise<Page> => {
    const probe = await openPage(browser as Browser);
    probes.push(probe);
    await probe.page.goto(`${base}/`);
    await probe.page.getByLabel('Token').fill(token);
    await probe.page.getByRole('button', { name: 'Sign in' }).click();
    return probe.page;
  };

  await t.test('People: the failed check with its value and limit; a look-alike, then Enrol anyway', async (t) => {
    const page = await signIn(ADMIN);
    await page.getByRole('link', { name: 'People' }).click();
    await page.getByRole('heading', { name: 'Howard' }).waitFor();
    const small = join(dir, 'small-amy.png');
    await sharp(bbtPhoto('amy', 1)).resize({ width: 64 }).toFile(small);
    await page.getByLabel('Name', { exact: true }).fill('Amy');
    await page.getByLabel('Photos', { exact: true }).setInputFiles([small]);
    await page.getByRole('button', { name: 'Enrol' }).click();
    const check = page.locator('.verdicts li [data-check="eye-distance"]');
    await check.waitFor({ timeout: 60_000 });
    t.match(await check.textContent(), /^move closer: eyes \d+ px apart, at least 30 needed \(move closer/, 'the check, the measured value, the limit and the fix');
    await page.screenshot({ path: join(OUT, 'people-quality.png') });

    await page.getByLabel('Name', { exact: true }).fill('Penny Two');
    await page.getByLabel('Photos', { exact: true }).setInputFiles([bbtPhoto('penny', 2)]);
    await page.getByRole('button', { name: 'Enrol' }).click();
    const verdict = page.locator('.verdicts li', { hasText: 'penny2.png' });
    await verdict.getByRole('button', { name: 'Enrol anyway' }).waitFor({ timeout: 60_000 });
    t.match(await verdict.textContent(), /rejected: looks like Penny \(similarity 0\.\d\d\): already enrolled as Penny at 0\.\d\d/);
    await verdict.getByRole('button', { name: 'Enrol anyway' }).click();
    await verdict.getByText('accepted (enrolled anyway)').waitFor({ timeout: 60_000 });
    t.ok(service.gallery.findByName('Penny Two').length === 1, 'enrolled after Enrol anyway');
  });

  await t.test('Events: "Not this person" on a wrong recognition adds a negative anchor (operator)', async (t) => {
    // The wrong recognition as the pipeline logs it: Stuart's face, matched to Howard.
    const store = new SnapshotStore(snapshotsDir, { retentionMs: 86_400_000, maxFiles: 100 });
    const { data, info } = await sharp(bbtPhoto('stuart', 2)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const snapshotId = await store.save({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, [0, 0, info.width, info.height]);
    const page = await signIn(OPERATOR);
    await page.getByRole('link', { name: 'Events' }).click();
    const wrong = service.bus.publish({ type: 'face.recognized', timeMs: Date.now(), cameraId: 'door', trackId: 't1', identityId: howard, data: { name: 'Howard', score: 0.31, masked: false, snapshotId } });
    service.bus.publish({ type: 'face.unknown', timeMs: Date.now(), cameraId: 'door', trackId: 't2', data: { score: 0.2, masked: false } });
    const row = page.locator(`tr[data-event-id="${wrong.id}"]`);
    await row.getByRole('button', { name: 'Not this person' }).click({ timeout: 20_000 });
    await row.getByText('marked: no longer matched to Howard').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(OUT, 'events-not-this-person.png') });
    t.equal(service.gallery.listNegativeAnchors(howard).length, 1, 'one negative anchor on Howard');
    const audit = service.log.query({ types: ['identity.updated'], identityId: howard, order: 'desc', limit: 1 })[0];
    t.match(audit?.data, { actor: 'dq-operator', negativeAnchorsAdded: 1 }, 'audited with the operator');
  });

  await t.test('Events: an admin enrols the face of an unknown-face event', async (t) => {
    const store = new SnapshotStore(snapshotsDir, { retentionMs: 86_400_000, maxFiles: 100 });
    const { data, info } = await sharp(bbtPhoto('raj', 1)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const snapshotId = await store.save({ data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height }, [0, 0, info.width, info.height]);
    const page = await signIn(ADMIN);
    await page.getByRole('link', { name: 'Events' }).click();
    const stranger = service.bus.publish({ type: 'face.unknown', timeMs: Date.now(), cameraId: 'door', trackId: 't3', data: { score: 0.1, masked: false, snapshotId } });
    const row = page.locator(`tr[data-event-id="${stranger.id}"]`);
    await row.getByRole('button', { name: 'Enrol…' }).click({ timeout: 20_000 });
    await row.getByLabel('Name').fill('Raj');
    await row.getByRole('button', { name: 'Enrol this face' }).click();
    await row.getByText('enrolled as Raj').waitFor({ timeout: 60_000 });
    t.equal(service.gallery.findByName('Raj').length, 1, 'Raj enrolled from the event');
  });

  await t.test('System: the calibration panel', async (t) => {
    const page = await signIn(OPERATOR);
    await page.getByRole('link', { name: 'System' }).click();
    await page.getByRole('heading', { name: /Recognition calibration/ }).waitFor();
    await page.locator('.calibration .thresholds').waitFor({ timeout: 20_000 });
    t.match(await page.locator('.calibration .thresholds').textContent(), /Thresholds in force: unmasked 0\.\d+, masked 0\.\d+/);
    t.match(await page.locator('.top-strangers tbody tr').first().textContent(), /^0\.200/, 'the closest stranger');
    await page.screenshot({ path: join(OUT, 'system-calibration.png'), fullPage: true });
    t.same(probes.flatMap((p) => p.problems), [], 'no console error or CSP violation');
  });
});

/**
 * A door on the demo door clip, in the real service: the loopback RTSP camera serves the clip the
 * e2e test renders (Angelina, enrolled from another photo, and a stranger), the gate front-door
 * (staff) has a door whose contact is an MQTT topic on a real Mosquitto that the test publishes
 * as the sensor. Angelina's grant -> door.released -> (contact open) door.opened -> (closed)
 * door.closed -> door.locked when the strike ends; then the contact opens with no grant ->
 * door.forced_open; Home Assistant's door lock (unlock = OPEN on the gate's command topic) releases
 * it as an audited manual open. The door's state is read over the API too. Where Debian's chromium
 * is installed, an admin then clicks the door buttons on the dashboard's Gates card: Lockdown
 * (door.mode_changed by the token), Release door (a manual release, allowed in lockdown), Normal.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import { doorClipKey, renderDoorClip } from '../../src/demo/door-clip.ts';
import { enrollDemoGallery } from '../../src/demo/demo.ts';
import type { Event } from '../../src/events/index.ts';
import { until } from '../../src/lib/time.ts';
import { chromiumAvailable, launchBrowser, openPage, servedDashboard } from '../helpers/browser.ts';
import { DATA_DIR, dataPath } from '../helpers/data.ts';
import { Mosquitto } from '../helpers/mosquitto.ts';
import { withRtspCamera } from '../helpers/rtsp.ts';
import { withService } from '../helpers/service.ts';

const CACHE = resolve(fileURLToPath(new URL('../../.facegate/test-cache/', import.meta.url)));
const VIEWER = 'doors-demo-viewer-token-0123456789';
const ADMIN = 'doors-demo-admin-token-0123456789';
const CONTACT = 'sensors/front_door_contact';

t.test('a door on the demo clip: grant -> released -> opened -> closed -> locked; opened with no grant -> forced_open', async (t) => {
  mkdirSync(CACHE, { recursive: true });
  // The clip the e2e test renders (same visitors and size: the cached file is reused).
  const visitors = [{ photo: dataPath('identities/deepface/angelina/img2.jpg') }, { photo: dataPath('identities/easyface/easyface_person_2/face_recognition_1.png') }];
  const clipOpts = { width: 1280, height: 720, fps: 10 };
  const clip = await renderDoorClip(visitors, join(CACHE, `door-${doorClipKey(visitors, clipOpts)}.mp4`), clipOpts);
  const rtsp = await withRtspCamera(t, { clip: clip.path, ...clipOpts });
  const broker = await Mosquitto.start();
  t.teardown(() => broker.stop());
  const sensor = await mqtt.connectAsync(broker.url, { reconnectPeriod: 100, protocolVersion: 5 });
  t.teardown(() => sensor.endAsync(true));
  // What Home Assistant would see: the device's discovery and the door's lock mirror.
  let discovery: { cmps: Record<string, Record<string, unknown>> } | undefined;
  const lockStates: string[] = [];
  sensor.on('message', (topic, payload) => {
    if (topic === 'homeassistant/device/doors-demo/config') discovery = JSON.parse(payload.toString()) as typeof discovery;
    else if (topic === 'facegate/doors-demo/gate/front-door/door_lock') lockStates.push(payload.toString());
  });
  await sensor.subscribeAsync(['homeassistant/device/doors-demo/config', 'facegate/doors-demo/gate/front-door/door_lock'], { qos: 1 });
  // The sensor's retained state: closed before facegate starts.
  await sensor.publishAsync(CONTACT, 'OFF', { qos: 1, retain: true });

  const galleryDir = mkdtempSync(join(tmpdir(), 'fg-doors-demo-gallery-'));
  t.teardown(() => rmSync(galleryDir, { recursive: true, force: true }));
  const galleryDb = join(galleryDir, 'gallery.sqlite');
  await enrollDemoGallery(galleryDb, DATA_DIR);
  // The dashboard's bundle, for the browser part at the end (only where chromium is installed).
  const browserCheck = chromiumAvailable();
  if (browserCheck) {
    await servedDashboard(t, join(galleryDir, 'web'));
  }

  const { service } = await withService(t, {
    prefix: 'fg-doors-demo-',
    config: () => ({
      auth: { tokens: [{ id: 'wall', role: 'viewer', sha256: sha256Hex(VIEWER) }, { id: 'duty-admin', role: 'admin', sha256: sha256Hex(ADMIN) }] },
      cameras: [{ id: 'door', url: rtsp.url('/clip'), fps: 5 }],
      gates: [{ id: 'front-door', cameras: ['door'], liveness: { required: false }, allow: { groups: ['staff'] }, door: { strikeMs: 4000, heldOpenMs: 60_000, contact: { mqtt: CONTACT } } }],
      gallery: { db: galleryDb },
      events: { outputs: { mqtt: { enabled: true, url: broker.url, nodeId: 'doors-demo', clientId: 'fg-doors-demo', commands: true } } },
    }),
  });
  const events: Event[] = [];
  const sub = service.bus.events$.subscribe((e) => events.push(e));
  t.teardown(() => sub.unsubscribe());
  const doorTypes = () => events.filter((e) => e.type.startsWith('door.')).map((e) => e.type);
  const doorNow = async () => (await (await fetch(`${service.api.url}/v1/gates/front-door/door`, { headers: { authorization: `Bearer ${VIEWER}` } })).json()) as { contact: string; locked: boolean; alarms: string[] };

  await until('the retained contact read', async () => (await doorNow()).contact === 'closed', 15_000, 100);
  await until('Angelina granted at front-door', () => events.some((e) => e.type === 'gate.granted' && e.gateId === 'front-door'), clip.durationMs + 30_000, 50);
  const granted = events.find((e) => e.type === 'gate.granted');
  t.match(granted?.data, { name: 'Angelina' });
  await until('door.released', () => doorTypes().includes('door.released'), 2000);
  t.match(events.find((e) => e.type === 'door.released'), { gateId: 'front-door', identityId: granted?.identityId, data: { by: 'grant' } });
  t.equal((await doorNow()).locked, false, 'the API says unlocked');

  // She opens the door and it closes behind her, inside the strike.
  await sensor.publishAsync(CONTACT, 'ON', { qos: 1, retain: true });
  await until('door.opened', () => doorTypes().includes('door.opened'), 5000);
  t.match(events.find((e) => e.type === 'door.opened'), { data: { authorised: true } });
  await sensor.publishAsync(CONTACT, 'OFF', { qos: 1, retain: true });
  await until('door.closed', () => doorTypes().includes('door.closed'), 5000);
  await until('door.locked when the strike ends', () => doorTypes().includes('door.locked'), 6000);
  t.same(doorTypes(), ['door.released', 'door.opened', 'door.closed', 'door.locked'], 'released -> opened -> closed -> locked, nothing else');
  t.match(events.find((e) => e.type === 'door.closed'), { data: { cleared: [] } });

  // The door opens with no grant in force: forced.
  await sensor.publishAsync(CONTACT, 'ON', { qos: 1, retain: true });
  await until('door.forced_open', () => doorTypes().includes('door.forced_open'), 5000);
  t.match(events.filter((e) => e.type === 'door.opened').at(-1), { data: { authorised: false } });
  t.match(await doorNow(), { contact: 'open', locked: true, alarms: ['forced_open'] });
  await sensor.publishAsync(CONTACT, 'OFF', { qos: 1, retain: true });
  await until('the forced door closed', () => doorTypes().filter((e) => e === 'door.closed').length === 2, 5000);
  t.match(events.filter((e) => e.type === 'door.closed').at(-1), { data: { cleared: ['forced_open'] } });

  // Home Assistant's door lock: a lock entity on the gate's command topic; its unlock (OPEN) is a
  // manual open through the MQTT sink's command path, audited with the sender.
  await until('discovery announced', () => discovery !== undefined, 10_000);
  t.match(discovery?.cmps['doors-demo_gate_front-door_door_lock'], { p: 'lock', command_topic: 'facegate/doors-demo/gate/front-door/set', payload_unlock: 'OPEN', state_topic: 'facegate/doors-demo/gate/front-door/door_lock' });
  const mirrored = lockStates.length;
  t.equal(lockStates.at(-1), 'LOCKED', 'the lock mirror says LOCKED before the command');
  await sensor.publishAsync('facegate/doors-demo/gate/front-door/set', 'OPEN', { qos: 1, properties: { userProperties: { sender: 'ha-dashboard' } } });
  await until('door.released by the MQTT command', () => events.some((e) => e.type === 'door.released' && e.data.by === 'manual'), 5000);
  t.match(events.find((e) => e.type === 'gate.opened'), { gateId: 'front-door', data: { action: 'open', by: 'mqtt:ha-dashboard' } });
  t.match(events.find((e) => e.type === 'door.released' && e.data.by === 'manual'), { data: { operator: 'mqtt:ha-dashboard' } });
  await until('door_lock UNLOCKED mirrored', () => lockStates.slice(mirrored).includes('UNLOCKED'), 5000);

  // All of it is in the durable log, under the gate.
  t.same(
    service.log.query({ gateId: 'front-door', types: ['door.*'] }).map((e) => e.type),
    ['door.released', 'door.opened', 'door.closed', 'door.locked', 'door.opened', 'door.forced_open', 'door.closed', 'door.released'],
  );

  // The dashboard's Gates card in a real browser: the admin's door buttons reach the door.
  if (!browserCheck) {
    t.comment('browser part skipped: no /usr/bin/chromium (scripts/setup.sh installs it)');
    return;
  }
  const browser = await launchBrowser();
  t.teardown(() => browser.close());
  const { page } = await openPage(browser);
  await page.goto(`${service.api.url}/`);
  await page.getByLabel('Token').fill(ADMIN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Gates' }).click();
  const card = page.locator('[data-door="front-door"]');
  await card.getByLabel('Door reason').fill('fire drill');
  await card.getByRole('button', { name: 'Lockdown' }).click();
  await until('door.mode_changed from the dashboard', () => events.some((e) => e.type === 'door.mode_changed'), 10_000);
  t.match(events.find((e) => e.type === 'door.mode_changed'), { gateId: 'front-door', data: { mode: 'lockdown', previous: 'normal', source: 'operator', by: 'duty-admin', reason: 'fire drill' } });
  await card.getByText('lockdown', { exact: true }).waitFor();
  t.pass('the card shows the lockdown');
  const manualBefore = events.filter((e) => e.type === 'door.released' && e.data.by === 'manual').length;
  await card.getByRole('button', { name: 'Release door' }).click();
  await until('door.released by the dashboard', () => events.filter((e) => e.type === 'door.released' && e.data.by === 'manual').length > manualBefore, 10_000);
  t.match(events.filter((e) => e.type === 'door.released' && e.data.by === 'manual').at(-1), { data: { operator: 'duty-admin' } }, 'an explicit open releases in lockdown, audited with the token');
  await card.getByRole('button', { name: 'Normal' }).click();
  await until('back to normal', () => events.filter((e) => e.type === 'door.mode_changed').length === 2, 10_000);
  t.match(events.filter((e) => e.type === 'door.mode_changed')[1], { data: { mode: 'normal', previous: 'lockdown', by: 'duty-admin' } });
});

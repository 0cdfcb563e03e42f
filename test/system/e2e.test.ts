/**
 * The whole chain on real parts: gst-rtsp-server on loopback serves an H.264 "door camera" clip
 * composed from real identity photos -> facegate (GStreamer ingest, SCRFD, tracker, best-shot
 * recognition against a gallery enrolled from *other* photos of the same person, gates, event
 * log) -> an authenticated WebSocket client. Two gates watch the door: one open all week, one
 * closed today by a schedule exception, so one pass checks granted, denied(unknown) and
 * denied(outside-schedule).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import { startService, type Service } from '../../src/app/service.ts';
import { watchEvents } from '../../src/client/watch.ts';
import { parseConfig } from '../../src/config/index.ts';
import { doorClipKey, renderDoorClip } from '../../src/demo/door-clip.ts';
import { enrollDemoGallery } from '../../src/demo/demo.ts';
import { createLogger } from '../../src/log.ts';
import { until } from '../../src/lib/time.ts';
import { RtspTestServer } from '../helpers/rtsp.ts';
import { DATA_DIR, dataPath } from '../helpers/data.ts';

const VIEWER = 'e2e-viewer-token-0123456789';
const CACHE = resolve(fileURLToPath(new URL('../../.facegate/test-cache/', import.meta.url)));

type Ev = { id: number; type: string; gateId?: string; trackId?: string; identityId?: string; data: Record<string, unknown> };

t.test('RTSP door camera -> whole chain -> WS client: granted, denied(unknown), denied(outside-schedule)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-e2e-'));
  mkdirSync(CACHE, { recursive: true });
  const visitors = [{ photo: dataPath('identities/deepface/angelina/img2.jpg') }, { photo: dataPath('identities/easyface/easyface_person_2/face_recognition_1.png') }];
  const clipOpts = { width: 1280, height: 720, fps: 10 };
  const clip = await renderDoorClip(visitors, join(CACHE, `door-${doorClipKey(visitors, clipOpts)}.mp4`), clipOpts);
  const rtsp = await RtspTestServer.start({ clip: clip.path, ...clipOpts });
  // The front door's controller is broken (503): the grant must still be audited as not executed.
  let doorCalls = 0;
  const controller = createServer((_req, res) => {
    doorCalls++;
    res.writeHead(503).end();
  });
  await new Promise<void>((r) => controller.listen(0, '127.0.0.1', r));
  const doorUrl = `http://127.0.0.1:${(controller.address() as AddressInfo).port}/open`;
  let service: Service | undefined;
  let watcher: { close(): void } | undefined;
  t.teardown(async () => {
    watcher?.close();
    await service?.close();
    await rtsp.stop();
    await new Promise((r) => controller.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  // The demo's gallery: Angelina (staff) enrolled from img1, never from the clip's img2.
  const galleryDb = join(dir, 'gallery.sqlite');
  await enrollDemoGallery(galleryDb, DATA_DIR);
  const day = (offset: number): string => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const allWeek = { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' };
  const config = parseConfig({
    server: { port: 0 },
    auth: { tokens: [{ id: 'e2e', role: 'viewer', sha256: sha256Hex(VIEWER) }] },
    cameras: [{ id: 'door', url: rtsp.url('/clip'), fps: 5 }],
    gates: [
      { id: 'front-door', cameras: ['door'], liveness: { required: false }, allow: { groups: ['staff'] }, schedule: { timeZone: 'UTC', weekly: [allWeek] }, actuation: { webhook: { url: doorUrl, secret: 'e2e-door-secret-0123456789', retries: 1, backoffMs: 50 } } },
      // Closed today (and tomorrow, should the test straddle midnight): a holiday closure.
      { id: 'side-door', cameras: ['door'], liveness: { required: false }, allow: { groups: ['staff'] }, schedule: { timeZone: 'UTC', weekly: [allWeek], exceptions: [{ date: day(0), closed: true }, { date: day(1), closed: true }] } },
    ],
    gallery: { db: galleryDb },
    events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } },
  });
  service = await startService(config, { logger: createLogger({ level: 'error' }) });

  const events: Ev[] = [];
  let ended: () => void = () => undefined;
  const eos = new Promise<void>((r) => (ended = r));
  watcher = watchEvents({
    url: service.api.url,
    token: VIEWER,
    since: 0,
    onEvent: (e) => {
      events.push(e as unknown as Ev);
      if (e.type === 'camera.down') ended();
    },
  });
  const limit = setTimeout(ended, clip.durationMs + 45_000);
  await eos;
  clearTimeout(limit);
  await new Promise((r) => setTimeout(r, 300));

  const of = (type: string) => events.filter((e) => e.type === type);
  t.ok(of('camera.up').length >= 1, 'camera.up');
  t.equal(of('camera.down')[0]?.data.reason, 'eos', 'the clip ended with EOS');

  const recognized = of('face.recognized');
  t.same([...new Set(recognized.map((e) => e.data.name))], ['Angelina'], 'face.recognized: Angelina, and only her');
  const angelinaTrack = recognized[0]?.trackId;
  t.ok((recognized[0]?.data.score as number) > service.recognition.thresholds.unmasked, `similarity ${(recognized[0]?.data.score as number)?.toFixed(2)} above the threshold`);

  const unknown = of('face.unknown');
  t.ok(unknown.length >= 1, 'the stranger is face.unknown');
  t.ok(unknown.every((e) => e.trackId !== angelinaTrack), 'on another track than Angelina');

  const granted = of('gate.granted');
  t.same(granted.map((e) => [e.gateId, e.trackId, e.data.name]), [['front-door', angelinaTrack, 'Angelina']], 'gate.granted once: Angelina at front-door');
  const denied = of('gate.denied');
  t.same(denied.filter((e) => e.trackId === angelinaTrack).map((e) => [e.gateId, e.data.reason]), [['side-door', 'outside-schedule']], 'side-door (closed today) denies her: outside-schedule');
  const strangerDenied = denied.filter((e) => e.trackId !== angelinaTrack);
  t.same(strangerDenied.map((e) => e.data.reason).sort(), ['unknown', 'unknown'], 'both gates deny the stranger: unknown');
  t.ok(events.every((e, i) => i === 0 || e.id > events[i - 1].id), 'ids strictly increasing, no duplicate');

  // The snapshot named by the recognition event is served by id.
  const snap = recognized[0]?.data.snapshotId;
  t.type(snap, 'string', 'the recognition names a snapshot');
  const res = await fetch(`${service.api.url}/v1/snapshots/${String(snap)}`, { headers: { authorization: `Bearer ${VIEWER}` } });
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), 'image/jpeg');
  const jpeg = Buffer.from(await res.arrayBuffer());
  t.equal(jpeg.subarray(0, 2).toString('hex'), 'ffd8', 'a JPEG face crop');

  // The grant was sent to the door controller, which failed: an audited gate.actuation_failed.
  const failed = of('gate.actuation_failed');
  t.same(failed.map((e) => [e.gateId, e.trackId, e.identityId]), [['front-door', angelinaTrack, granted[0]?.identityId]], 'the failed door actuation of the grant is an event');
  t.match(failed[0]?.data, { action: 'open', trigger: 'gate.granted', outcomes: [{ target: 'webhook', ok: false, attempts: 2, status: 503 }] });
  t.equal(doorCalls, 2, 'one attempt + one retry reached the controller');

  // Ingest counters reach /v1/cameras and /metrics (frames lost before JS are a stage of their own).
  const cams = (await (await fetch(`${service.api.url}/v1/cameras`, { headers: { authorization: `Bearer ${VIEWER}` } })).json()) as { cameras?: Array<{ id: string; ingest?: { delivered: number; lost: number } }> } | Array<{ id: string; ingest?: { delivered: number; lost: number } }>;
  const door = (Array.isArray(cams) ? cams : cams.cameras ?? []).find((c) => c.id === 'door');
  t.ok((door?.ingest?.delivered ?? 0) > 50, `/v1/cameras: ingest counters (${door?.ingest?.delivered} frames delivered, ${door?.ingest?.lost} lost)`);
  // The metrics sampler runs on its own interval: poll until it has taken the ingest counters.
  const ingestDropped = /facegate_frames_dropped_total\{camera="door",stage="ingest"\} \d+/;
  let metricsText = '';
  await until('/metrics: the ingest counters sampled', async () => ingestDropped.test((metricsText = await (await fetch(`${service?.api.url}/metrics`, { headers: { authorization: `Bearer ${VIEWER}` } })).text())), 10_000, 100);
  t.match(metricsText, ingestDropped, '/metrics: frames dropped at the ingest stage');

  // The durable log holds what the client was sent.
  const logged = service.log.since(0, {}, 1000);
  t.ok(events.every((e) => logged.some((l) => l.id === e.id && l.type === e.type)), 'every received event is in the event log');
});

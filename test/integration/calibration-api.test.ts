/**
 * GET /v1/calibration over a real event log and API server, and `facegate report calibration`
 * on the same log: per-camera histograms, the thresholds in force, the top stranger scores.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { sha256Hex } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiServer } from '../../src/api/server.ts';
import { calibrationRoute, recognitionEvents, thresholdsInForce } from '../../src/app/calibration-api.ts';
import { parseConfig } from '../../src/config/index.ts';
import { EventBus, EventLog } from '../../src/events/index.ts';

const run = promisify(execFile);
const VIEWER = 'viewer-token-0123456789abcdefab';
const dir = mkdtempSync(join(tmpdir(), 'fg-calibration-'));
const db = join(dir, 'events.sqlite');
const config = parseConfig({ events: { db }, recognition: { thresholds: { unmasked: 0.3, masked: 0.25 } } });
let log: EventLog;
let bus: EventBus;
let api: ApiServer;

t.before(async () => {
  log = new EventLog(db);
  bus = new EventBus(log);
  const now = Date.now();
  const face = (type: 'face.recognized' | 'face.unknown', cameraId: string, score: number, ago: number, masked = false) =>
    type === 'face.recognized'
      ? bus.publish({ type, timeMs: now - ago, cameraId, trackId: 't', identityId: 'id_ada', data: { name: 'Ada', score, masked } })
      : bus.publish({ type, timeMs: now - ago, cameraId, trackId: 't', data: { score, masked } });
  face('face.recognized', 'door', 0.62, 1000);
  face('face.recognized', 'door', 0.55, 2000);
  face('face.recognized', 'lobby', 0.71, 3000);
  face('face.unknown', 'door', 0.12, 4000);
  face('face.unknown', 'door', 0.285, 5000);
  face('face.unknown', 'lobby', 0.2, 6000);
  face('face.unknown', 'lobby', 0.05, 40 * 86_400_000);
  bus.publish({ type: 'face.unknown', timeMs: now, cameraId: 'door', trackId: 't', data: { masked: false } });
  api = await startApiServer(
    {
      events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
      tokens: () => [{ id: 'wall', role: 'viewer' as const, sha256: sha256Hex(VIEWER) }],
      metrics: createMetrics({ defaultMetrics: false }),
      routes: [calibrationRoute({ eventLog: log, config: () => config })],
    },
    { bind: '127.0.0.1', port: 0, allowedOrigins: [], sendBufferMessages: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000 },
  );
});
t.teardown(async () => {
  await api?.close();
  bus?.close();
  log?.close();
  rmSync(dir, { recursive: true, force: true });
});

t.test('recognitionEvents reads only face events, oldest first, from a time', async (t) => {
  const all = recognitionEvents(log, undefined);
  t.equal(all.length, 8);
  t.ok(all.every((e, i) => i === 0 || e.timeMs >= all[i - 1].timeMs));
  t.equal(recognitionEvents(log, Date.now() - 30 * 86_400_000).length, 7, 'the 40-day-old one is left out');
  t.equal(recognitionEvents(log, undefined, 3).length, 3, 'capped (the newest kept)');
});

t.test('GET /v1/calibration: thresholds in force, per camera, top strangers (viewer)', async (t) => {
  t.equal((await fetch(`${api.url}/v1/calibration`)).status, 401);
  t.equal((await fetch(`${api.url}/v1/calibration?days=0`, { headers: { authorization: `Bearer ${VIEWER}` } })).status, 400);
  const res = await fetch(`${api.url}/v1/calibration?days=30`, { headers: { authorization: `Bearer ${VIEWER}` } });
  t.equal(res.status, 200);
  const r = (await res.json()) as { thresholds: { unmasked: number; masked: number }; events: Record<string, number>; cameras: { cameraId: string; genuine: { count: number }; stranger: { count: number } }[]; topStrangers: { score: number; cameraId: string }[] };
  t.same(r.thresholds, { ...thresholdsInForce(config) });
  t.match(r.thresholds, { unmasked: 0.3, masked: 0.25 });
  t.same(r.events, { genuine: 3, stranger: 3, strangerWithoutScore: 1 });
  t.same(r.cameras.map((c) => [c.cameraId, c.genuine.count, c.stranger.count]), [['door', 2, 2], ['lobby', 1, 1]]);
  t.match(r.topStrangers[0], { score: 0.285, cameraId: 'door' }, 'the closest stranger first');
});

t.test('facegate report calibration --config: the same report as text and JSON', async (t) => {
  const file = join(dir, 'facegate.yaml');
  writeFileSync(file, `events:\n  db: ${db}\nrecognition:\n  thresholds:\n    unmasked: 0.3\n    masked: 0.25\n`);
  const text = await run(process.execPath, ['bin/facegate.js', 'report', 'calibration', '--config', file]);
  t.match(text.stdout, /thresholds in force: unmasked 0\.3, masked 0\.25/);
  t.match(text.stdout, /camera door[\s\S]*camera lobby/);
  t.match(text.stdout, /how close did a stranger come[\s\S]*0\.285 on door, 0\.015 below the threshold 0\.3/);
  const json = await run(process.execPath, ['bin/facegate.js', 'report', 'calibration', '--config', file, '--json', '--days', '30']);
  t.match(JSON.parse(json.stdout), { events: { genuine: 3, stranger: 3 }, topStrangers: [{ score: 0.285 }] });
  const missing = await run(process.execPath, ['bin/facegate.js', 'report', 'calibration', '--config', join(dir, 'nope.yaml')]).catch((e: { code: number; stderr: string }) => e);
  t.equal((missing as { code: number }).code, 1);
});

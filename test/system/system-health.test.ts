import t from 'tap';
import { systemHealthEvent } from '../../src/app/health.ts';
import type { Event } from '../../src/events/index.ts';
import { withService } from '../helpers/service.ts';

const base = { nowMs: 1_000_000, uptimeMs: 60_000, rssBytes: 300e6, sinks: [], modelP95Ms: {}, eventLogLastId: 7 };
const cam = (id: string, status: string) => ({ id, status, fpsIn: 5, fpsProcessed: 4.96, lostPerS: 0.04 });

t.test('systemHealthEvent: ok / degraded / error, with the reason and the figures', async (t) => {
  const ok = systemHealthEvent({ ...base, cameras: [cam('door', 'camera.up')], modelP95Ms: { scrfd_500m: 20 } });
  t.match(ok, { type: 'system.health', timeMs: 1_000_000, data: { status: 'ok', uptimeMs: 60_000, rssBytes: 300e6, cameras: { door: 'camera.up' } } });
  t.equal(ok.data.message, undefined);
  t.match(ok.data.details, { eventLogLastId: 7, 'camera.door.fpsIn': 5, 'camera.door.fpsProcessed': 5, 'camera.door.lostPerS': 0, 'model.scrfd_500m.p95Ms': 20 });
  const degraded = systemHealthEvent({ ...base, cameras: [cam('door', 'camera.up'), cam('yard', 'camera.down')], sinks: [{ name: 'mqtt', connected: false, lag: 12, lastError: 'not authorized' }] });
  t.equal(degraded.data.status, 'degraded');
  t.equal(degraded.data.message, 'camera yard down; sink mqtt not connected (not authorized)');
  t.match(degraded.data.details, { 'sink.mqtt.connected': false, 'sink.mqtt.lag': 12 });
  t.equal(systemHealthEvent({ ...base, cameras: [cam('door', 'camera.stalled'), cam('yard', 'starting')] }).data.status, 'error', 'every camera down: the door is blind');
  t.equal(systemHealthEvent({ ...base, cameras: [] }).data.status, 'ok', 'no cameras configured is not an error');
});

t.test('the service publishes system.health on its interval, into the log and to subscribers', async (t) => {
  const published: Event[] = [];
  const { service } = await withService(t, { prefix: 'fg-health-', config: () => ({ cameras: [] }), healthIntervalMs: 200, onPublished: (e) => published.push(e) });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && published.filter((e) => e.type === 'system.health').length < 2) await new Promise((r) => setTimeout(r, 50));
  const health = published.filter((e) => e.type === 'system.health');
  t.ok(health.length >= 2, `${health.length} system.health events`);
  t.match(health[0]?.data, { status: 'ok', cameras: {} });
  t.ok((health[1]?.data.uptimeMs as number) > (health[0]?.data.uptimeMs as number), 'uptime grows');
  t.ok(service.log.query({ types: ['system.health'] }).length >= 2, 'in the durable log');
});

t.test('histogramP95ByLabel: the upper bound of the bucket holding 95% of each label', async (t) => {
  const { createMetrics, histogramP95ByLabel } = await import('../../src/api/metrics.ts');
  const m = createMetrics({ defaultMetrics: false });
  for (let i = 0; i < 95; i++) m.modelRun.observe({ model: 'fast' }, 3);
  for (let i = 0; i < 5; i++) m.modelRun.observe({ model: 'fast' }, 400);
  for (let i = 0; i < 10; i++) m.modelRun.observe({ model: 'slow' }, 150);
  t.same(await histogramP95ByLabel(m.modelRun, 'model'), { fast: 5, slow: 200 });
  m.modelRun.observe({ model: 'huge' }, 1e6);
  t.notOk('huge' in (await histogramP95ByLabel(m.modelRun, 'model')), 'beyond the last bucket: no finite bound, left out');
  const { histogramSummaryByLabel } = await import('../../src/api/metrics.ts');
  const summary = await histogramSummaryByLabel(m.modelRun, 'model');
  t.same(summary.fast, { count: 100, p50Ms: 5, p99Ms: 500 }, 'p50 / p99 from the same buckets');
  t.same(summary.huge, { count: 1 }, 'no finite bound: only the count');
});

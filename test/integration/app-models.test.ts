/**
 * The service's shared model sessions (src/app/models.ts): cameras with equal detector settings
 * share one session, a session no camera uses after a hot reload is released, and every provider
 * role is honoured. Real SCRFD / embedder / mask sessions.
 */
import t from 'tap';
import { createMetrics } from '../../src/api/metrics.ts';
import { loadServiceModels } from '../../src/app/models.ts';
import { parseConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';

t.test('detectors shared per tier x size, released when no camera uses them', async (t) => {
  const config = parseConfig({
    cameras: [
      { id: 'a', url: 'rtsp://127.0.0.1:1/a', detector: { tier: '500m', size: 320 } },
      { id: 'b', url: 'rtsp://127.0.0.1:1/b', detector: { tier: '500m', size: 320 } },
      { id: 'c', url: 'rtsp://127.0.0.1:1/c', detector: { tier: '500m', size: 480 } },
    ],
  });
  const models = await loadServiceModels(config.models, createMetrics({ defaultMetrics: false }), createLogger({ level: 'silent' }));
  t.teardown(() => models.close());
  for (const c of config.cameras) await models.ensureDetector(c);
  t.equal(models.detectors().length, 2, 'a and b share one session; c has its own');
  t.equal(models.detectorFor('a'), models.detectorFor('b'), 'the same detector object');
  t.not(models.detectorFor('a'), models.detectorFor('c'));
  const c = models.detectorFor('c');
  await models.releaseUnused(['a', 'b']);
  t.same(models.detectors().map((d) => `${d.tier}@${d.size}`), ['500m@320'], "c's session is released");
  t.equal(models.detectorFor('c'), undefined);
  await t.rejects(c?.detect({ data: new Uint8Array(64 * 64 * 3), width: 64, height: 64 }) ?? Promise.reject(new Error('no detector')), /closed/, 'and closed');
  await models.releaseUnused(['a']);
  t.equal(models.detectors().length, 1, 'b going leaves a its shared session');
});

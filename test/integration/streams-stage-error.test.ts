/**
 * A stage that fails on every frame (a real detector whose ONNX session was released: every run
 * throws) is reported as stage.error events, one per camera and stage per 10 s window, while the
 * chain goes on (frames keep flowing, the camera stays up) — not an unbounded log flood.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { of } from 'rxjs';
import { EventBus, EventLog, EventThrottle, type Event } from '../../src/events/index.ts';
import { createDetector } from '../../src/detect/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { createEmbedder } from '../../src/recognize/index.ts';
import { startAccessControl } from '../../streams/access-control.ts';

t.test('EventThrottle: one per key per window, then the count of what it folded', async (t) => {
  const th = new EventThrottle(1000, 2);
  t.equal(th.admit('a', 0), 0);
  t.equal(th.admit('a', 10), undefined);
  t.equal(th.admit('a', 999), undefined);
  t.equal(th.admit('b', 20), 0, 'another key has its own window');
  t.equal(th.admit('a', 1000), 2, 'the window passed: emitted with 2 suppressed');
  t.equal(th.admit('a', 1500), undefined);
  t.equal(th.admit('c', 1600), 0);
  t.equal(th.admit('b', 1700), 0, 'b was evicted (maxKeys 2): a fresh start, memory stays bounded');
});

t.test('a detector failing on every frame: one stage.error per window, the camera keeps running', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-stage-error-'));
  const log = new EventLog(join(dir, 'events.sqlite'));
  const bus = new EventBus(log);
  const gallery = openGallery(join(dir, 'gallery.sqlite'));
  const detector = await createDetector({ tier: '500m', size: 320 });
  const embedder = await createEmbedder('mobilefacenet_foamliu_128d');
  await detector.close(); // every run now throws inside ONNX Runtime
  const published: Event[] = [];
  const access = startAccessControl({
    cameras$: of([{ camera: { id: 'bars', source: { kind: 'test', pattern: 'ball', width: 320, height: 240, fps: 15 }, output: { fps: 10 } }, detector }]),
    models: { embedder },
    gallery,
    gates$: of([]),
    bus,
    settings: { thresholds: { unmasked: 0.4, masked: 0.6 }, maskThreshold: 0.5, bestShot: {}, unknownThreshold: 0.4 },
    onPublished: (e) => published.push(e),
  });
  t.teardown(async () => {
    access.stop();
    await access.drain();
    bus.close();
    log.close();
    gallery.close();
    await embedder.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && (access.counters.get('bars')?.detect.errors ?? 0) < 15) await new Promise((r) => setTimeout(r, 100));
  const errors = access.counters.get('bars')?.detect.errors ?? 0;
  t.ok(errors >= 15, `the detector failed on ${errors} frames`);
  const stage = published.filter((e) => e.type === 'stage.error');
  t.equal(stage.length, 1, `one stage.error for ${errors} failures within the window`);
  t.match(stage[0], { type: 'stage.error', cameraId: 'bars', data: { stage: 'detect', model: detector.model.name, suppressed: 0 } });
  t.type(stage[0]?.data.message, 'string');
  t.ok(published.some((e) => e.type === 'camera.up'), 'the camera is up and stays in the chain');
  t.same(log.query({ types: ['stage.error'] }).map((e) => e.id), stage.map((e) => e.id), 'in the durable log too');
});

/**
 * The detection gate on the real camera chain (GStreamer file source in real time -> SCRFD 500m on
 * the detector copy -> tracker -> best-shot recognition against the demo gallery): the demo's door
 * clip gated vs ungated gives the same recognised tracks, and the idle door scene (noise,
 * compression, slow light swing, nobody there) costs a fraction of the detector runs.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { entries, firstDetectionDelays, missedVsUngated, runClip } from '../../bench/motion.ts';
import { recognitionSettings } from '../../src/app/models.ts';
import { parseConfig } from '../../src/config/index.ts';
import { DEMO_CAST, DEMO_CLIP, enrollDemoGallery } from '../../src/demo/demo.ts';
import { doorClipKey, renderDoorClip, renderIdleClip } from '../../src/demo/door-clip.ts';
import { createDetector } from '../../src/detect/index.ts';
import { openGallery } from '../../src/gallery/index.ts';
import { createEmbedder, createMaskClassifier } from '../../src/recognize/index.ts';

const DATA_DIR = resolve(fileURLToPath(new URL('../../../shared/data/', import.meta.url)));
const CACHE = resolve(fileURLToPath(new URL('../../.facegate/test-cache/', import.meta.url)));

t.test('door clip: gated detection recognises the same tracks as every-frame detection; the idle scene skips most frames', async (t) => {
  mkdirSync(CACHE, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'fg-motion-chain-'));
  const visitors = DEMO_CAST.visitors.filter((v) => !v.who.includes('stranger')).map((v) => ({ photo: join(DATA_DIR, v.photo) }));
  // Gaps longer than the tracker's maxLostMs (2 s): each visitor after the first enters a door the
  // gate sees as idle (no tracks, nothing moving), the case where the gate could miss someone.
  const clipOpts = { ...DEMO_CLIP, gapSeconds: 3.5 };
  const door = await renderDoorClip(visitors, join(CACHE, `door-${doorClipKey(visitors, clipOpts)}.mp4`), clipOpts);
  const idle = await renderIdleClip(join(CACHE, 'idle-12s.mp4'), { seconds: 12 });
  const galleryDb = join(dir, 'gallery.sqlite');
  await enrollDemoGallery(galleryDb, DATA_DIR);
  const config = parseConfig({ cameras: [] });
  const settings = recognitionSettings(config.recognition, config.models.embedder);
  const detector = await createDetector({ tier: '500m', size: 640 });
  const idleDetector = await createDetector({ tier: '500m', size: 640 });
  const embedder = await createEmbedder(config.models.embedder);
  const mask = await createMaskClassifier();
  const gallery = openGallery(galleryDb);
  t.teardown(async () => {
    gallery.close();
    await detector.close();
    await idleDetector.close();
    await embedder.close();
    await mask.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const models = { embedder, mask };
  // The shipped defaults (motion gate on, detector.interval from the schema) against the gate off,
  // and the idle scene. The clips play in real time, so the idle scene runs beside the ungated
  // door (each camera with its own detector session, as a box gives each camera); the gated door
  // runs alone after it: two door passes side by side at every-frame detection split tracks on a
  // loaded 2-core machine.
  const [ungated, idleRun] = await Promise.all([
    runClip('door', 'ungated', door.path, { fps: 5, motion: { enabled: false } }, detector, models, gallery, settings),
    runClip('idle', 'gated', idle.path, { fps: 5 }, idleDetector, models, gallery, settings),
  ]);
  const gated = await runClip('door', 'gated', door.path, { fps: 5 }, detector, models, gallery, settings);
  const names = (r: typeof gated): string[] => r.tracks.map((x) => x.name).sort();
  t.ok(ungated.tracks.filter((x) => x.name !== 'unknown').length >= 3, `ungated recognises the visitors: ${names(ungated).join(', ')}`);
  t.same(names(gated), names(ungated), 'the same recognised tracks');
  t.same(missedVsUngated(ungated.tracks, gated.tracks), [], '0 missed against ungated detection');
  for (const u of ungated.tracks.filter((x) => x.name !== 'unknown')) {
    const g = gated.tracks.find((x) => x.name === u.name);
    t.ok(g && Math.abs(g.score - u.score) <= 0.05, `${u.name}: ${u.score.toFixed(3)} ungated, ${g?.score.toFixed(3)} gated`);
  }
  const delays = firstDetectionDelays(entries(ungated.perFrame), gated.perFrame);
  t.ok(delays.length >= 3 && delays.every((d) => d <= 400), `first detection within 400 ms of a person entering: ${delays.join(', ')} ms`);
  t.equal(ungated.detected, ungated.frames, 'ungated: every frame detected');
  t.ok(gated.detected < ungated.detected, `gated door: ${gated.detected} / ${gated.frames} frames detected (${JSON.stringify(gated.reasons)})`);
  t.ok(gated.reasons.motion >= 2, 'visitors entering an idle door were caught by motion');

  t.same(idleRun.tracks, [], 'nobody in the idle scene');
  // Warm-up (the first 20 frames: noise floors being learnt) and one keep-alive a second: ~1/3 of
  // 60 frames; motion from noise, compression or the light swing would push it towards all.
  t.ok(idleRun.frames >= 50, `${idleRun.frames} idle frames`);
  t.ok(idleRun.detected <= idleRun.frames * 0.5, `idle: ${idleRun.detected} / ${idleRun.frames} frames detected (${JSON.stringify(idleRun.reasons)})`);
  t.equal(idleRun.reasons.motion, 0, 'no motion from noise, compression or the slow light swing');
});

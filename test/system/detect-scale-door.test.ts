/**
 * Recognition does not drop when the detector runs on the GStreamer-scaled copy: the real service
 * on a door clip of the demo cast (real RTSP at 1280x720, SCRFD, tracker, best-shot recognition
 * against the demo gallery), once with cameras[].detectScale off and once on. Same people, similar
 * scores. Three of the demo's visitors (Angelina, masked Min, Elon), to keep the test short.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startService } from '../../src/app/service.ts';
import { parseConfig } from '../../src/config/index.ts';
import { DEMO_CAST, DEMO_CLIP, enrollDemoGallery } from '../../src/demo/demo.ts';
import { doorClipKey, renderDoorClip } from '../../src/demo/door-clip.ts';
import { createLogger } from '../../src/log.ts';
import { RtspTestServer } from '../helpers/rtsp.ts';
import { DATA_DIR } from '../helpers/data.ts';

const CACHE = resolve(fileURLToPath(new URL('../../.facegate/test-cache/', import.meta.url)));

interface Run {
  readonly recognized: Map<string, number>;
  readonly unknown: number;
  readonly delivered: string;
}

async function runDoor(clip: { path: string; durationMs: number }, galleryDb: string, detectScale: boolean): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-door-scale-'));
  const rtsp = await RtspTestServer.start({ clip: clip.path, width: 1280, height: 720, fps: 10 });
  const config = parseConfig({
    server: { port: 0 },
    auth: { enabled: false },
    cameras: [{ id: 'door', url: rtsp.url('/clip'), fps: 5, detectScale, detector: { tier: '500m', size: 640 } }],
    gallery: { db: galleryDb },
    events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') } },
  });
  const events: { type: string; data: Record<string, unknown> }[] = [];
  let ended: () => void = () => undefined;
  const eos = new Promise<void>((r) => (ended = r));
  const service = await startService(config, {
    logger: createLogger({ level: 'error' }),
    onPublished: (e) => {
      events.push({ type: e.type, data: e.data as Record<string, unknown> });
      if (e.type === 'camera.down') ended();
    },
  });
  const limit = setTimeout(ended, clip.durationMs + 45_000);
  try {
    await eos;
  } finally {
    clearTimeout(limit);
    await new Promise((r) => setTimeout(r, 300));
    await service.close();
    await rtsp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const recognized = new Map<string, number>();
  for (const e of events.filter((x) => x.type === 'face.recognized')) {
    const name = String(e.data.name);
    recognized.set(name, Math.max(recognized.get(name) ?? -1, Number(e.data.score)));
  }
  return { recognized, unknown: events.filter((x) => x.type === 'face.unknown').length, delivered: [...recognized].map(([n, s]) => `${n} ${s.toFixed(3)}`).join(', ') };
}

t.test('door clip: the same identities with similar scores, detectScale off vs on', async (t) => {
  mkdirSync(CACHE, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'fg-door-gallery-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const visitors = DEMO_CAST.visitors.filter((v) => !v.who.includes('stranger')).map((v) => ({ photo: join(DATA_DIR, v.photo) }));
  const clip = await renderDoorClip(visitors, join(CACHE, `door-${doorClipKey(visitors, DEMO_CLIP)}.mp4`), DEMO_CLIP);
  const galleryDb = join(dir, 'gallery.sqlite');
  await enrollDemoGallery(galleryDb, DATA_DIR);
  t.notOk(existsSync(`${galleryDb}-wal`), 'the enrolled gallery is one file (closed, its log checkpointed): safe to copy');

  // The two services side by side (one camera each: a fraction of the 2 cores), each with its own
  // copy of the gallery, as the unknown faces a run keeps must not reach the other.
  copyFileSync(galleryDb, join(dir, 'gallery-on.sqlite'));
  const [off, on] = await Promise.all([runDoor(clip, galleryDb, false), runDoor(clip, join(dir, 'gallery-on.sqlite'), true)]);
  t.comment(`off: ${off.delivered}; unknown ${off.unknown}`);
  t.comment(`on:  ${on.delivered}; unknown ${on.unknown}`);
  t.ok(off.recognized.size >= 2, `the reference run recognises the enrolled visitors (${[...off.recognized.keys()].join(', ')})`);
  t.same([...on.recognized.keys()].sort(), [...off.recognized.keys()].sort(), 'the same identities with the GStreamer copy');
  for (const [name, score] of off.recognized) {
    const other = on.recognized.get(name) ?? 0;
    t.ok(Math.abs(other - score) <= 0.05, `${name}: best score ${other.toFixed(3)} with the copy vs ${score.toFixed(3)} without`);
  }
  t.equal(on.unknown, off.unknown, `as many face.unknown (${on.unknown})`);
});

/**
 * `npm run bench -- motion [--scenes door,pair,idle,FILE|FOLDER] [--intervals 1,2] [--idle-seconds 30] [--door-gap S] [--clip-fps 10] [--fps 5] [--idle-decode] [--liveness on|off] [--json]`
 *
 * The detection gate (motion + tracker activity + keep-alive + detection interval) on the real
 * camera chain (GStreamer file source played in real time, SCRFD 500m @640 on the detector copy,
 * tracker, best-shot recognition against the demo gallery), one run at a time, each clip once per
 * setting: ungated (every frame detected, the behaviour before the gate), then gated with each
 * detection interval. Scenes:
 * - door: the demo's door clip (4 visitors walking up; the person "enters" on the first frame the
 *   ungated detector finds their face); `--door-gap S` renders it with S seconds between visitors
 *   (the demo's 1.5 s is shorter than the tracker's 2 s maxLostMs, so the door is never idle);
 *   `--clip-fps N` encodes it at N fps (the demo's 10; a camera at the cap's own rate: 5);
 * - pair: a second visitor walks in beside the first once the first has stood 3 s (recognised,
 *   settled: the detector on its interval); an entry is any detected frame with more faces than the
 *   one before, so the second person's first detection is measured too;
 * - a video file or a folder of them (real footage: `--scenes ../shared/data/spoof_video/live`);
 * - idle: the same door background with sensor noise, H.264 compression and a slow light swing,
 *   nobody there (src/demo/door-clip.ts `renderIdleClip`).
 * `--idle-decode`: one more gated run (interval 1) with `motion.idleDecode: keyframes` (the decoder
 * gets key frames only while nothing happens; src/ingest/decode-feed.ts), with its wake counts.
 * Liveness runs as the service runs it by default (`--liveness off`: without). Per run: frames
 * seen, detector runs (ratio), recognised tracks (name @ best score, liveness), how much later than
 * ungated each track was ready for a gate's decision (confirming runs in, liveness known), tracks
 * recognised ungated but not gated (`missedVsUngated`, must be 0), time from a person entering to
 * the gated chain's first detection of them (p95 / max, in clip time), Node CPU % of one core and
 * the gst-launch child's, the motion step's µs per frame, all against the raw SCRFD run measured
 * in this process first.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lastValueFrom, toArray } from 'rxjs';
import { recognitionSettings } from '../src/app/models.ts';
import { ingestCameraConfig, parseConfig } from '../src/config/index.ts';
import { demoDataDir, enrollDemoGallery } from '../src/demo/demo.ts';
import { renderIdleClip } from '../src/demo/door-clip.ts';
import { createDetector, type Detector } from '../src/detect/index.ts';
import { openGallery, type Gallery } from '../src/gallery/index.ts';
import { quantile } from '../src/lib/stats.ts';
import { mulberry32 } from '../src/lib/random.ts';
import { createMotionDetector, DEFAULT_MOTION_PARAMS, greyThumbnail, type GreyImage } from '../src/motion/index.ts';
import { createLogger } from '../src/log.ts';
import { cameraChain, newCameraCounters, type PipelineItem, type RecognitionSettings, type SharedModels } from '../src/pipeline/index.ts';
import { confirmingLooks, createEmbedder, createLiveness, createMaskClassifier, DEFAULT_BEST_SHOT } from '../src/recognize/index.ts';
import { children, doorClip, pairClip, rawScrfdCpuMs } from './e2e.ts';

export interface MotionRun {
  readonly scene: string;
  readonly setting: string;
  readonly frames: number;
  readonly detected: number;
  /**
   * Per recognised track ('unknown' for face.unknown tracks): best score; liveness (the last
   * median, with liveness models); `readyPtsMs`: clip time of the first recognition a gate could
   * decide on (its confirming runs in and, with liveness models, its liveness known).
   */
  readonly tracks: readonly { readonly trackId: string; readonly name: string; readonly score: number; readonly liveness?: number | undefined; readonly readyPtsMs?: number | undefined }[];
  /** Per frame: clip time (ms, from PTS), faces found, skipped by the gate. */
  readonly perFrame: readonly { readonly ptsMs: number; readonly faces: number; readonly skipped: boolean }[];
  readonly wallS: number;
  readonly nodeCpuPercent: number;
  readonly gstCpuPercent: number;
  readonly motionMicros: number;
  readonly reasons: Record<string, number>;
  /** Ingest's counters at the end (idle decode: access units parsed / not decoded, wakes). */
  readonly ingest: Record<string, number>;
}

/** One clip through the real chain with the given camera settings (the config's own mapping). */
export async function runClip(
  scene: string,
  setting: string,
  clip: string,
  camera: Record<string, unknown>,
  detector: Detector,
  models: SharedModels,
  gallery: Gallery,
  settings: RecognitionSettings,
): Promise<MotionRun> {
  // Idle decoding needs the codec named (the parse child stops at h264parse).
  const idle = (camera.motion as { idleDecode?: string } | undefined)?.idleDecode === 'keyframes';
  const entry = parseConfig({ cameras: [{ id: 'bench', source: { kind: 'file', path: clip, realtime: true, ...(idle ? { codec: 'h264' } : {}) }, ...camera }] }).cameras[0];
  const counters = newCameraCounters();
  const perFrame: { ptsMs: number; faces: number; skipped: boolean }[] = [];
  // The gst-launch child exits with the clip: sample its CPU while it runs.
  const kids0 = children({ rescan: true });
  let kidsLast = kids0.cpuS;
  const sampler = setInterval(() => (kidsLast = Math.max(kidsLast, children().cpuS)), 250);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const items: PipelineItem[] = await lastValueFrom(
    cameraChain(ingestCameraConfig(entry, detector.size), detector, models, gallery, settings, {
      counters,
      logger: createLogger({ level: 'error' }),
      onDetected: (ff) => perFrame.push({ ptsMs: (ff.frame.pts ?? NaN) / 1e6, faces: ff.faces.length, skipped: ff.skipped === true }),
    }).pipe(toArray()),
  );
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  const best = new Map<string, { trackId: string; name: string; score: number; liveness?: number | undefined; readyPtsMs?: number | undefined }>();
  const ready = new Map<string, number>();
  const liveness = new Map<string, number>();
  const confirmRuns = confirmingLooks({ ...DEFAULT_BEST_SHOT, ...settings.bestShot });
  for (const it of items) {
    if (it.kind !== 'recognition') continue;
    const r = it.recognition;
    const name = r.type === 'face.recognized' ? (r.name ?? '?') : 'unknown';
    const score = r.score ?? 0;
    if (r.liveness !== undefined) liveness.set(r.trackId, r.liveness);
    const livenessKnown = r.livenessEvidence === undefined || r.livenessEvidence.score !== undefined;
    if (!ready.has(r.trackId) && livenessKnown && r.embedderRuns >= confirmRuns && r.frame?.pts !== undefined) ready.set(r.trackId, r.frame.pts / 1e6);
    const prev = best.get(r.trackId);
    if (!prev || (prev.name === name ? score > prev.score : r.type === 'face.recognized')) best.set(r.trackId, { trackId: r.trackId, name, score });
  }
  for (const [id, b] of best) best.set(id, { ...b, liveness: liveness.get(id), readyPtsMs: ready.get(id) });
  return {
    scene,
    setting,
    frames: perFrame.length,
    detected: perFrame.filter((f) => !f.skipped).length,
    tracks: [...best.values()],
    perFrame,
    wallS,
    nodeCpuPercent: (100 * (cpu.user + cpu.system)) / 1e6 / wallS,
    gstCpuPercent: (100 * (kidsLast - kids0.cpuS)) / wallS,
    motionMicros: counters.gate?.motionMicros ?? 0,
    reasons: { ...(counters.gate?.counts ?? {}) },
    ingest: { ...(counters.ingest?.() ?? {}) },
  };
}

/** CPU µs of one motion step (thumbnail + compare) on a noisy frame of the given size, median of `runs`. */
export function motionStepMicros(width: number, height: number, runs = 300): number {
  const rand = mulberry32(3);
  const frames = [0, 1].map(() => ({ data: Uint8Array.from({ length: width * height * 3 }, () => 100 + Math.floor(rand() * 8)), width, height }));
  const detector = createMotionDetector();
  let grey: GreyImage | undefined;
  const times: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const t0 = process.cpuUsage();
    grey = greyThumbnail(frames[i % 2], DEFAULT_MOTION_PARAMS.width, grey);
    detector.update(grey);
    const c = process.cpuUsage(t0);
    if (i >= 20) times.push(c.user + c.system);
  }
  return quantile(times, 0.5);
}

/**
 * Entries, ungated: clip time (ms) of each frame with more faces than the detected frame before it
 * (someone came in, alone or beside those already there), and how many faces it had.
 */
export function entries(perFrame: MotionRun['perFrame']): { ptsMs: number; faces: number }[] {
  const out: { ptsMs: number; faces: number }[] = [];
  let before = 0;
  for (const f of perFrame) {
    if (f.skipped) continue;
    if (f.faces > before) out.push({ ptsMs: f.ptsMs, faces: f.faces });
    before = f.faces;
  }
  return out;
}

/** For each entry, clip ms until the gated run's first detected frame with at least as many faces. */
export function firstDetectionDelays(enter: readonly { ptsMs: number; faces: number }[], gated: MotionRun['perFrame']): number[] {
  return enter.map((e) => {
    const hit = gated.find((f) => !f.skipped && f.faces >= e.faces && f.ptsMs >= e.ptsMs - 1);
    return hit ? hit.ptsMs - e.ptsMs : Infinity;
  });
}

/**
 * Per ungated recognised track (by name, in order), how much later (ms of clip time) the gated run's
 * track of that name was ready for a gate's decision; undefined where either never was.
 */
export function readyDelays(ungated: MotionRun['tracks'], gated: MotionRun['tracks']): (number | undefined)[] {
  const used = new Set<string>();
  return ungated.map((u) => {
    const g = gated.find((x) => x.name === u.name && !used.has(x.trackId));
    if (g) used.add(g.trackId);
    return u.readyPtsMs !== undefined && g?.readyPtsMs !== undefined ? g.readyPtsMs - u.readyPtsMs : undefined;
  });
}

/** Names of ungated tracks with no gated track of the same name (unknown tracks counted by number). */
export function missedVsUngated(ungated: MotionRun['tracks'], gated: MotionRun['tracks']): string[] {
  const count = (ts: MotionRun['tracks']): Map<string, number> => ts.reduce((m, x) => m.set(x.name, (m.get(x.name) ?? 0) + 1), new Map<string, number>());
  const g = count(gated);
  const missed: string[] = [];
  for (const [name, n] of count(ungated)) for (let i = g.get(name) ?? 0; i < n; i++) missed.push(name);
  return missed;
}

/** What runClip needs besides the clip: the service's default models (liveness optional) and the gallery. */
export async function openChainModels(galleryDb: string, liveness: boolean): Promise<{ detector: Detector; models: SharedModels; gallery: Gallery; settings: RecognitionSettings; close: () => Promise<void> }> {
  const config = parseConfig({ cameras: [] });
  const settings = recognitionSettings(config.recognition, config.models.embedder);
  const detector = await createDetector({ tier: '500m', size: 640 });
  const embedder = await createEmbedder(config.models.embedder);
  const mask = await createMaskClassifier();
  // Liveness as the service runs it by default (models.liveness).
  const lv = config.models.liveness;
  const live = liveness && lv.enabled ? await createLiveness(lv.models, { track: { window: lv.window, minFrames: lv.minFrames } }) : undefined;
  const gallery = openGallery(galleryDb);
  const close = async (): Promise<void> => {
    gallery.close();
    await detector.close();
    await embedder.close();
    await mask.close();
    await live?.close();
  };
  return { detector, models: { embedder, mask, liveness: live }, gallery, settings, close };
}

/**
 * The gate against every-frame detection on one clip, for benches that run the service live (the
 * e2e bench: a live RTSP camera has no ungated twin to compare with): the clip through the camera
 * chain twice in real time, ungated and with `camera`'s settings, the shipped models and liveness.
 */
export async function gateReference(clip: string, camera: Record<string, unknown>, galleryDb: string): Promise<{ firstDetectionMs: number | null; missedVsUngated: number; readyLaterMs: (number | undefined)[] }> {
  const { detector, models, gallery, settings, close } = await openChainModels(galleryDb, true);
  try {
    const fps = camera.fps ?? 5;
    const ungated = await runClip('door', 'ungated', clip, { fps, motion: { enabled: false }, detector: { interval: 1 } }, detector, models, gallery, settings);
    const gated = await runClip('door', 'gated', clip, camera, detector, models, gallery, settings);
    const delays = firstDetectionDelays(entries(ungated.perFrame), gated.perFrame);
    return { firstDetectionMs: delays.length ? quantile(delays, 0.95) : null, missedVsUngated: missedVsUngated(ungated.tracks, gated.tracks).length, readyLaterMs: readyDelays(ungated.tracks, gated.tracks) };
  } finally {
    await close();
  }
}

/** `path` itself when it is a file, else the files of the folder `path`, sorted; a clear error when neither. */
function videoFiles(path: string): string[] {
  if (!existsSync(path)) throw new Error(`--scenes: "${path}" is neither door, pair, idle nor an existing video file or folder`);
  return statSync(path).isDirectory()
    ? readdirSync(path)
        .sort()
        .map((f) => join(path, f))
        .filter((f) => statSync(f).isFile())
    : [path];
}

export async function runMotionBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: { scenes: { type: 'string', default: 'door,idle' }, intervals: { type: 'string', default: '1,2' }, 'idle-seconds': { type: 'string', default: '30' }, 'door-gap': { type: 'string' }, 'clip-fps': { type: 'string' }, fps: { type: 'string', default: '5' }, 'idle-decode': { type: 'boolean', default: false }, liveness: { type: 'string', default: 'on' }, json: { type: 'boolean', default: false } },
  });
  // A scene that is not a generated one is a video file, or a folder of them (real footage).
  const scenes = values.scenes.split(',').flatMap((s) => (['door', 'pair', 'idle'].includes(s) ? [s] : videoFiles(s)));
  const intervals = values.intervals.split(',').map(Number);
  const fps = Number(values.fps);
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-motion-'));
  const stateDir = join(process.cwd(), '.facegate/demo');
  const dataDir = demoDataDir();
  const galleryDb = join(dir, 'gallery.sqlite');
  await enrollDemoGallery(galleryDb, dataDir);
  const { detector, models, gallery, settings, close } = await openChainModels(galleryDb, values.liveness !== 'off');
  const raw = await rawScrfdCpuMs();
  process.stderr.write(`raw SCRFD 500m @640 (720p input): ${raw.cpuMs.toFixed(1)} ms CPU, ${raw.wallMs.toFixed(1)} ms wall per run\n`);
  const step = { copy: motionStepMicros(640, 360), full: motionStepMicros(1280, 720) };
  process.stderr.write(`motion step (thumbnail + compare), CPU µs median: ${step.copy.toFixed(0)} on the 640x360 detector copy, ${step.full.toFixed(0)} on a 1280x720 frame (${((100 * step.copy) / 1000 / raw.cpuMs).toFixed(1)} % / ${((100 * step.full) / 1000 / raw.cpuMs).toFixed(1)} % of a raw SCRFD run)\n`);
  const rows: (MotionRun & { missed: string[]; firstDetectionMs: number[]; readyDelayMs: (number | undefined)[] })[] = [];
  try {
    for (const scene of scenes) {
      const clip =
        scene === 'door'
          ? (await doorClip(stateDir, dataDir, values['door-gap'], values['clip-fps'])).path
          : scene === 'pair'
            ? (await pairClip(stateDir, dataDir)).path
            : scene === 'idle'
              ? (await renderIdleClip(join(stateDir, `idle-${values['idle-seconds']}s.mp4`), { seconds: Number(values['idle-seconds']) })).path
              : scene;
      const base = { fps };
      const ungated = await runClip(scene, 'ungated', clip, { ...base, motion: { enabled: false }, detector: { interval: 1 } }, detector, models, gallery, settings);
      rows.push({ ...ungated, missed: [], firstDetectionMs: [], readyDelayMs: [] });
      process.stderr.write(`  ${scene} ungated: ${ungated.detected}/${ungated.frames} detected, ${ungated.tracks.map((x) => `${x.name} ${x.score.toFixed(3)}`).join(', ')}\n`);
      const enter = entries(ungated.perFrame);
      const settingsToRun: [string, Record<string, unknown>][] = intervals.map((k) => [`gated, interval ${k}`, { motion: { enabled: true }, detector: { interval: k } }]);
      if (values['idle-decode']) settingsToRun.push(['gated, interval 1, idle decode keyframes', { motion: { enabled: true, idleDecode: 'keyframes' }, detector: { interval: 1 } }]);
      for (const [setting, camera] of settingsToRun) {
        const gated = await runClip(scene, setting, clip, { ...base, ...camera }, detector, models, gallery, settings);
        const row = { ...gated, missed: missedVsUngated(ungated.tracks, gated.tracks), firstDetectionMs: firstDetectionDelays(enter, gated.perFrame), readyDelayMs: readyDelays(ungated.tracks, gated.tracks) };
        rows.push(row);
        process.stderr.write(`  ${scene} ${setting}: ${gated.detected}/${gated.frames} detected, ${gated.tracks.map((x) => `${x.name} ${x.score.toFixed(3)}`).join(', ')}; missed ${row.missed.length}; first detection ${row.firstDetectionMs.join('/')} ms\n`);
      }
    }
  } finally {
    await close();
    rmSync(dir, { recursive: true, force: true });
  }
  const trackText = (x: MotionRun['tracks'][number]): string => `${x.name} ${x.score.toFixed(3)}${x.liveness === undefined ? '' : ` (live ${x.liveness.toFixed(2)})`}`;
  const readyText = (r: (typeof rows)[number]): string => (r.setting === 'ungated' ? '-' : r.readyDelayMs.map((d) => (d === undefined ? 'never' : d.toFixed(0))).join(' / ') || '-');
  if (values.json) {
    for (const r of rows) {
      console.log(
        JSON.stringify({
          scene: r.scene,
          setting: r.setting,
          frames: r.frames,
          detected: r.detected,
          detectedRatio: r.detected / Math.max(1, r.frames),
          tracks: r.tracks.map(trackText),
          readyLaterMs: r.readyDelayMs,
          missedVsUngated: r.missed.length,
          firstDetectionMs: r.firstDetectionMs.length ? quantile(r.firstDetectionMs, 0.95) : null,
          nodeCpuPercent: r.nodeCpuPercent,
          gstCpuPercent: r.gstCpuPercent,
          cpuPerCameraPercent: r.nodeCpuPercent + r.gstCpuPercent,
          rawScrfdCpuMs: raw.cpuMs,
          nodeCpuMsPerFrame: (r.nodeCpuPercent * r.wallS * 10) / Math.max(1, r.frames),
          motionMicrosPerFrame: r.motionMicros,
          motionStepCpuMicros: step,
          reasons: r.reasons,
          ingest: r.ingest,
        }),
      );
    }
    return;
  }
  console.log(`\n| scene | setting | frames | detector runs (share) | recognised tracks (best score) | missed vs ungated | first detection ms (p95 / max) | ready for a decision, ms later than ungated (per track) | Node CPU % | gst CPU % | Node CPU ms per frame | / raw SCRFD CPU (${raw.cpuMs.toFixed(1)} ms) | motion µs/frame |`);
  console.log('|---|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const perFrame = (r.nodeCpuPercent * r.wallS * 10) / Math.max(1, r.frames);
    const fd = r.firstDetectionMs.length ? `${quantile(r.firstDetectionMs, 0.95).toFixed(0)} / ${Math.max(...r.firstDetectionMs).toFixed(0)}` : '-';
    console.log(`| ${r.scene} | ${r.setting} | ${r.frames} | ${r.detected} (${((100 * r.detected) / Math.max(1, r.frames)).toFixed(0)} %) | ${r.tracks.map(trackText).join(', ') || '-'} | ${r.setting === 'ungated' ? '-' : r.missed.length} | ${fd} | ${readyText(r)} | ${r.nodeCpuPercent.toFixed(1)} | ${r.gstCpuPercent.toFixed(1)} | ${perFrame.toFixed(1)} | ${(perFrame / raw.cpuMs).toFixed(2)} | ${r.motionMicros.toFixed(0)} |`);
  }
  for (const r of rows) if (r.setting !== 'ungated') console.log(`gate decisions (${r.scene}, ${r.setting}): ${Object.entries(r.reasons).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const r of rows) {
    if ((r.ingest.parsed ?? 0) > 0) console.log(`idle decode (${r.scene}, ${r.setting}): ${r.ingest.parsed} access units parsed, ${r.ingest.notDecoded} not decoded, woken ${r.ingest.wokenBySize} x by size / ${r.ingest.wokenByDemand} x by the chain, ${r.ingest.catchUp} catch-up frames not delivered, ${r.ingest.missedByPts} frames missed by PTS`);
  }
}

/**
 * `facegate eval --pad DIR`: presentation-attack detection measured on a labelled folder of photos
 * and videos (labels.csv: file,label,attack[,context,...]).
 *
 * - A photo is judged on the face nearest the image centre: one liveness score.
 * - A video goes through what a camera would do: GStreamer decodes it upright (the rotation tag
 *   applied, see src/ingest/pipeline.ts), each frame is detected, the ByteTrack tracker follows the
 *   faces, and every visible confirmed track's face is scored. The video is judged on ONE track,
 *   the one a gate would act on: the track seen in the most frames (ties: the first confirmed).
 *   Its score aggregates the per-frame scores (`trackScore`: the live pipeline's best-shot frames,
 *   or all of the track's frames by mean / median / trimmed mean / min).
 * Rows that cannot be judged (unknown label, missing or unreadable file, no face) are reported per
 * item with a reason and counted; they never stop the run.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { concatMap, lastValueFrom, defaultIfEmpty } from 'rxjs';
import type { Detector } from '../detect/index.ts';
import { FacegateError, errorMessage } from '../errors.ts';
import { decodeImage } from '../image/decode.ts';
import { buildPipeline, GstLaunchSource, type Source, type SourceEvent } from '../ingest/index.ts';
import { createTracker } from '../track/index.ts';
import type { Box, Face, RgbImage } from '../types.ts';
import { alignFace } from './align.ts';
import { DEFAULT_BEST_SHOT, shouldEmbed, EMPTY_TRACK_STATE, type BestShotOptions, type TrackRecognitionState } from './bestshot.ts';
import { parseCsv } from '../lib/csv.ts';
import type { LivenessModel } from './models.ts';
import { aggregateScores, padRates, padReport, type PadLabel, type PadRates, type PadReportCore, type PadSample, type TrackAggregate } from './pad-metrics.ts';
import { trackPlanarity, type TrackPlanarity } from './planarity.ts';
import { faceQuality } from './quality.ts';

export const VIDEO_EXTENSIONS: ReadonlySet<string> = new Set(['.mp4', '.mov', '.m4v', '.mkv', '.webm', '.avi', '.3gp', '.ts']);

export interface PadRow {
  readonly line: number;
  readonly file: string;
  readonly label: string;
  readonly attack: string;
  readonly context: string | undefined;
}

/** labels.csv of a PAD folder. A missing file or missing columns is an error of the whole run. */
export function readPadLabels(dir: string): PadRow[] {
  const path = join(dir, 'labels.csv');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new FacegateError('BAD_ARGUMENT', `no labels.csv in ${dir}`, { context: { path }, hint: 'the folder needs labels.csv with the columns file,label,attack (label live or spoof; attack none for live, print / replay / mask / ... for spoofs), optionally context' });
  }
  const [header = [], ...rows] = parseCsv(text);
  const col = (n: string): number => header.findIndex((h) => h.trim().toLowerCase() === n);
  const idx = { file: col('file'), label: col('label'), attack: col('attack'), context: col('context') };
  const missing = (['file', 'label', 'attack'] as const).filter((n) => idx[n] < 0);
  if (missing.length) throw new FacegateError('BAD_ARGUMENT', `${path} lacks column(s) ${missing.join(', ')}`, { context: { path }, hint: 'the header must name file, label, attack (and optionally context)' });
  return rows.map((r, i) => ({
    line: i + 2,
    file: (r[idx.file] ?? '').trim(),
    label: (r[idx.label] ?? '').trim().toLowerCase(),
    attack: (r[idx.attack] ?? '').trim().toLowerCase(),
    context: idx.context >= 0 ? (r[idx.context] ?? '').trim() || undefined : undefined,
  }));
}

export type PadProblem = 'unknown-label' | 'unknown-attack' | 'missing-file' | 'unreadable' | 'no-face';

/** One face of one frame of a video, as the bench and the report see it. */
export interface PadFaceObservation {
  readonly frameIndex: number;
  readonly timeMs: number;
  readonly trackId: string;
  readonly box: Box;
  readonly landmarks: Face['landmarks'];
  readonly quality: number;
  /** MiniFASNet ensemble "real" probability on this frame. */
  readonly score: number;
  /** The live pipeline would have read liveness here (its best-shot embedder frames). */
  readonly bestShot: boolean;
  /** Whatever `onFace` measured on this face. */
  readonly extra: Readonly<Record<string, number>>;
}

export interface PadTrack {
  readonly trackId: string;
  readonly observations: readonly PadFaceObservation[];
}

export interface PadItem {
  readonly file: string;
  readonly line: number;
  readonly label: PadLabel | undefined;
  readonly attack: string;
  readonly context: string | undefined;
  readonly kind: 'photo' | 'video';
  /** Liveness score of the decision; undefined when the item could not be judged. */
  readonly score: number | undefined;
  readonly accepted: boolean | undefined;
  readonly problem: PadProblem | undefined;
  readonly detail: string | undefined;
  /** Videos: frames decoded, tracks found, the deciding track and how many frames it had. */
  readonly video?: {
    readonly frames: number;
    readonly tracks: number;
    readonly decidingTrack: string | undefined;
    readonly trackFrames: number;
    readonly bestShotFrames: number;
    readonly width: number;
    readonly height: number;
    /**
     * Landmark planarity of the deciding track over the frames that pass the best-shot quality gate
     * (planarity.ts): a measured diagnostic, not part of the decision (docs/liveness.md says why).
     */
    readonly planarity?: TrackPlanarity;
  };
  /** Photos: image size and the judged face box (for the bench). */
  readonly photo?: { readonly width: number; readonly height: number; readonly box: Box; readonly faces: number };
}

export type TrackScoreRule = 'best-shot' | TrackAggregate;

/** Liveness score at and above which a presentation is accepted as live (docs/liveness.md). */
export const DEFAULT_PAD_THRESHOLD = 0.5;
/**
 * How a video's deciding track is scored by default: the median of its frames, the rule the live
 * pipeline decides by (liveness-track.ts; docs/liveness.md).
 */
export const DEFAULT_TRACK_SCORE: TrackScoreRule = 'median';

export interface PadEvalOptions {
  readonly threshold: number;
  /** How a video's deciding track is scored. Default `best-shot` (what `facegate run` does today). */
  readonly trackScore?: TrackScoreRule;
  /** Frames per second decoded from videos (a door camera's processing rate). Default 10. */
  readonly videoFps?: number;
  readonly bestShot?: Partial<BestShotOptions>;
  /** Frame source for videos (default: a gst-launch child). */
  readonly source?: Source;
  readonly onProgress?: (done: number, total: number) => void;
  /** Extra per-face measurements (the cue bench); kept on each observation. */
  readonly onFace?: (image: RgbImage, face: Face, ctx: { readonly kind: 'photo' | 'video'; readonly file: string; readonly trackId?: string }) => Promise<Record<string, number>> | Record<string, number>;
  /** Called with each video's tracks (the cue bench). */
  readonly onTracks?: (file: string, tracks: readonly PadTrack[]) => void;
}

export interface PadModels {
  readonly detector: Detector;
  readonly liveness: LivenessModel;
}

export interface PadEvalReport extends PadReportCore {
  readonly dir: string;
  readonly trackScore: TrackScoreRule;
  readonly items: readonly PadItem[];
  /** Items that could not be judged, per reason. */
  readonly problems: Readonly<Partial<Record<PadProblem, number>>>;
  /** Judged items vs rows with no decision, per label (the standard's non-response counts). */
  readonly nonResponse: { readonly live: number; readonly spoof: number };
  /** Rates for photos and for videos apart, when the folder has both. */
  readonly kinds: { readonly photo: PadRates; readonly video: PadRates } | undefined;
}

const centreDistance = (f: Face, w: number, h: number): number => Math.hypot((f.box[0] + f.box[2]) / 2 - w / 2, (f.box[1] + f.box[3]) / 2 - h / 2);

/** The face a photo is judged on: the one nearest the image centre. */
export function centralFace(faces: readonly Face[], width: number, height: number): Face | undefined {
  let best: Face | undefined;
  for (const f of faces) if (!best || centreDistance(f, width, height) < centreDistance(best, width, height)) best = f;
  return best;
}

/** The track a gate would act on: most frames seen, ties to the earliest confirmed. */
export function decidingTrack(tracks: readonly PadTrack[]): PadTrack | undefined {
  let best: PadTrack | undefined;
  for (const t of tracks) if (t.observations.length && (!best || t.observations.length > best.observations.length)) best = t;
  return best;
}

/** A track's score under a rule; best-shot falls back to all frames when no frame was a best shot. */
export function trackScore(track: PadTrack, rule: TrackScoreRule): number {
  const all = track.observations.map((o) => o.score);
  if (rule === 'best-shot') {
    const shots = track.observations.filter((o) => o.bestShot).map((o) => o.score);
    return aggregateScores(shots.length ? shots : all, 'mean');
  }
  return aggregateScores(all, rule);
}

export interface VideoFaces {
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly tracks: PadTrack[];
}

/** Decode a video upright, detect, track and score every visible confirmed face. */
export async function videoObservations(path: string, models: PadModels, opts: Pick<PadEvalOptions, 'videoFps' | 'bestShot' | 'source' | 'onFace'> & { readonly file?: string } = {}): Promise<VideoFaces> {
  const source = opts.source ?? new GstLaunchSource();
  const config = { kind: 'file' as const, path, realtime: false, lossless: true };
  const fps = opts.videoFps ?? 10;
  const pipeline = buildPipeline({ source: config, output: { fps } });
  let decoded = 0;
  let lastMs: number | undefined;
  const bestShot: BestShotOptions = { ...DEFAULT_BEST_SHOT, ...opts.bestShot };
  const tracker = createTracker({ cameraId: 'pad' });
  const tracks = new Map<string, PadFaceObservation[]>();
  const states = new Map<string, TrackRecognitionState>();
  let frames = 0;
  let width = 0;
  let height = 0;
  let ended: Extract<SourceEvent, { type: 'ended' }> | undefined;
  const stderr: string[] = [];
  const onEvent = async (ev: SourceEvent): Promise<void> => {
    if (ev.type === 'stderr') stderr.push(ev.line);
    if (ev.type === 'ended') ended = ev;
    if (ev.type !== 'frame') return;
    decoded++;
    // videorate caps constant-rate files at the fps; variable-rate ones come whole, so they are
    // thinned here by timestamp to the same rate (a door camera's processing rate).
    const timeMs = ev.pts !== undefined ? ev.pts / 1e6 : decoded * (1000 / fps);
    if (lastMs !== undefined && timeMs - lastMs < 0.9 * (1000 / fps)) return;
    lastMs = timeMs;
    const frameIndex = frames++;
    const image = ev.image;
    width = image.width;
    height = image.height;
    const faces = await models.detector.detect(image);
    const step = tracker.update(faces, timeMs);
    for (const track of step.update.tracks) {
      if (track.lostFrames !== 0) continue;
      const { crop } = alignFace(image, track.face.landmarks);
      const quality = faceQuality(track.face, crop).value;
      let state = states.get(track.trackId) ?? EMPTY_TRACK_STATE;
      let isShot = false;
      if (quality >= bestShot.minQuality) {
        state = { ...state, framesSeen: state.framesSeen + 1, framesSinceRun: state.framesSinceRun + 1 };
        if (shouldEmbed(state, quality, bestShot)) {
          isShot = true;
          // What addEmbedding does to the best-shot bookkeeping; no embedding is needed here.
          state = { ...state, runs: state.runs + 1, bestQuality: Math.max(state.bestQuality, quality), framesSinceRun: 0 };
        }
      }
      states.set(track.trackId, state);
      const score = await models.liveness.realProbability(image, track.face.box);
      const extra = opts.onFace ? await opts.onFace(image, track.face, { kind: 'video', file: opts.file ?? path, trackId: track.trackId }) : {};
      const list = tracks.get(track.trackId) ?? [];
      list.push({ frameIndex, timeMs, trackId: track.trackId, box: track.face.box, landmarks: track.face.landmarks, quality, score, bestShot: isShot, extra });
      tracks.set(track.trackId, list);
    }
  };
  await lastValueFrom(source.run(pipeline, { secrets: [], source: config }).pipe(concatMap(onEvent), defaultIfEmpty(undefined)));
  if (!ended || ended.reason.kind !== 'eos' || frames === 0) {
    const why = ended ? `${ended.reason.message}${ended.reason.hint ? ` (${ended.reason.hint})` : ''}` : 'the decoder ended without a result';
    throw new FacegateError('IMAGE_UNREADABLE', frames === 0 ? `no video frame decoded from ${path}: ${why}` : `decoding ${path} failed after ${frames} frames: ${why}`, {
      context: { path, frames },
      hint: 'check that GStreamer can play the file (gst-launch-1.0 filesrc location=FILE ! decodebin ! fakesink)',
    });
  }
  return { frames, width, height, tracks: [...tracks].map(([trackId, observations]) => ({ trackId, observations })) };
}

const problemItem = (row: PadRow, kind: PadItem['kind'], label: PadLabel | undefined, problem: PadProblem, detail: string): PadItem => ({
  file: row.file,
  line: row.line,
  label,
  attack: label === 'live' ? 'none' : row.attack,
  context: row.context,
  kind,
  score: undefined,
  accepted: undefined,
  problem,
  detail,
});

/** Judge every row of DIR/labels.csv and report APCER / BPCER / ACER. */
export async function evaluatePad(dir: string, models: PadModels, opts: PadEvalOptions): Promise<PadEvalReport> {
  const rows = readPadLabels(dir);
  const rule = opts.trackScore ?? DEFAULT_TRACK_SCORE;
  const items: PadItem[] = [];
  let done = 0;
  for (const row of rows) {
    const kind: PadItem['kind'] = VIDEO_EXTENSIONS.has(extname(row.file).toLowerCase()) ? 'video' : 'photo';
    items.push(await judgeRow(dir, row, kind, models, opts, rule));
    opts.onProgress?.(++done, rows.length);
  }
  const judged = items.filter((i): i is PadItem & { label: PadLabel; score: number } => i.score !== undefined && i.label !== undefined);
  const samples: PadSample[] = judged.map((i) => ({ label: i.label, attack: i.attack, score: i.score, context: i.context }));
  const problems: Partial<Record<PadProblem, number>> = {};
  for (const i of items) if (i.problem) problems[i.problem] = (problems[i.problem] ?? 0) + 1;
  const unjudged = (l: PadLabel): number => items.filter((i) => i.label === l && i.score === undefined).length;
  const photos = samples.filter((_, k) => judged[k].kind === 'photo');
  const videos = samples.filter((_, k) => judged[k].kind === 'video');
  return {
    dir,
    trackScore: rule,
    ...padReport(samples, opts.threshold),
    items,
    problems,
    nonResponse: { live: unjudged('live'), spoof: unjudged('spoof') },
    kinds: photos.length && videos.length ? { photo: padRates(photos, opts.threshold), video: padRates(videos, opts.threshold) } : undefined,
  };
}

async function judgeRow(dir: string, row: PadRow, kind: PadItem['kind'], models: PadModels, opts: PadEvalOptions, rule: TrackScoreRule): Promise<PadItem> {
  if (row.label !== 'live' && row.label !== 'spoof') return problemItem(row, kind, undefined, 'unknown-label', `label "${row.label}" is neither live nor spoof`);
  const label: PadLabel = row.label;
  if (label === 'spoof' && (row.attack === '' || row.attack === 'none')) return problemItem(row, kind, label, 'unknown-attack', 'a spoof row needs its attack type (print, replay, mask, ...)');
  const path = join(dir, row.file);
  if (!row.file || !existsSync(path) || !statSync(path).isFile()) return problemItem(row, kind, label, 'missing-file', `no file ${row.file || '(empty name)'} in ${dir}`);
  const base = { file: row.file, line: row.line, label, attack: label === 'live' ? 'none' : row.attack, context: row.context, kind, problem: undefined, detail: undefined };
  if (kind === 'photo') {
    let image: RgbImage;
    try {
      image = (await decodeImage(path)).image;
    } catch (e) {
      return problemItem(row, kind, label, 'unreadable', errorMessage(e));
    }
    const faces = await models.detector.detect(image);
    const face = centralFace(faces, image.width, image.height);
    if (!face) return problemItem(row, kind, label, 'no-face', `no face found in ${image.width}x${image.height} image`);
    const score = await models.liveness.realProbability(image, face.box);
    if (opts.onFace) await opts.onFace(image, face, { kind: 'photo', file: row.file });
    return { ...base, score, accepted: score >= opts.threshold, photo: { width: image.width, height: image.height, box: face.box, faces: faces.length } };
  }
  let video: VideoFaces;
  try {
    video = await videoObservations(path, models, { ...opts, file: row.file });
  } catch (e) {
    return problemItem(row, kind, label, 'unreadable', errorMessage(e));
  }
  opts.onTracks?.(row.file, video.tracks);
  const track = decidingTrack(video.tracks);
  const info = {
    frames: video.frames,
    tracks: video.tracks.length,
    decidingTrack: track?.trackId,
    trackFrames: track?.observations.length ?? 0,
    bestShotFrames: track?.observations.filter((o) => o.bestShot).length ?? 0,
    width: video.width,
    height: video.height,
  };
  if (!track) return { ...problemItem(row, kind, label, 'no-face', `no face tracked in ${video.frames} frames (${video.width}x${video.height})`), video: info };
  const score = trackScore(track, rule);
  const minQuality = opts.bestShot?.minQuality ?? DEFAULT_BEST_SHOT.minQuality;
  const planarity = trackPlanarity(track.observations.filter((o) => o.quality >= minQuality).map((o) => o.landmarks));
  return { ...base, score, accepted: score >= opts.threshold, video: { ...info, planarity } };
}

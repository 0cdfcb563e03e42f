import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { mulberry32 } from '../lib/random.ts';
import { loadSharp } from '../image/sharp.ts';

/** One person walking up to the door camera, shown by a real photo of them. */
export interface DoorVisitor {
  readonly photo: string;
}

export interface DoorClipOptions {
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
  /** How long each visitor takes to walk up. */
  readonly secondsPerVisitor?: number;
  /** Empty door between visitors, so their tracks end. */
  readonly gapSeconds?: number;
}

/**
 * Ease-in walk: the visitor's photo grows from a third of the frame height to nearly all of it and
 * drifts from the side to the centre, the way a face approaches a door camera.
 */
export function visitorPlacement(t: number, width: number, height: number, aspect: number, side: 1 | -1): { left: number; top: number; w: number; h: number } {
  const e = t * t * (3 - 2 * t); // smoothstep
  const h = Math.round(height * (0.35 + 0.55 * e));
  const w = Math.round(h * aspect);
  const cx = width / 2 + side * (1 - e) * width * 0.25;
  const cy = height * (0.55 - 0.05 * e);
  return { left: Math.round(cx - w / 2), top: Math.round(cy - h / 2), w, h };
}

async function background(width: number, height: number): Promise<Buffer> {
  // A plain wall with a darker door frame: no texture the detector could take for a face.
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#8a8f94"/><rect x="${width * 0.2}" y="${height * 0.05}" width="${width * 0.6}" height="${height * 0.95}" fill="#5d6166"/><rect x="${width * 0.23}" y="${height * 0.09}" width="${width * 0.54}" height="${height * 0.91}" fill="#b7bcc1"/></svg>`;
  return (await loadSharp())(Buffer.from(svg)).removeAlpha().raw().toBuffer();
}

/** sharp's composite may hand back RGBA; the encoder was told RGB. */
function dropAlpha(rgba: Buffer): Buffer {
  const out = Buffer.allocUnsafe((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) {
    out[o] = rgba[i];
    out[o + 1] = rgba[i + 1];
    out[o + 2] = rgba[i + 2];
  }
  return out;
}

/**
 * How generated clips are encoded: H.264 with 4:2:0 chroma, as cameras send it (x264 would pick
 * 4:4:4 for RGB input, which costs a decoder more and which OpenH264 cannot decode). Part of every
 * cached clip's name, so a clip encoded otherwise is never reused.
 */
export const CLIP_ENCODING = 'h264-420';

/** Cache key of a clip: its inputs (photo bytes, options and the encoding). */
export function doorClipKey(visitors: readonly DoorVisitor[], opts: DoorClipOptions | PairClipOptions): string {
  const h = createHash('sha256').update(JSON.stringify(opts)).update(CLIP_ENCODING);
  for (const v of visitors) h.update(readFileSync(v.photo));
  return h.digest('hex').slice(0, 16);
}

/**
 * An H.264 MP4 encoder for raw RGB frames (one gst-launch child; the same x264 settings for every
 * generated clip), written to a temp file and renamed onto `out` when it finished cleanly.
 */
function clipEncoder(out: string, width: number, height: number, fps: number): { write(frame: Buffer): Promise<void>; finish(what: string): Promise<void> } {
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.part.mp4`;
  const gst = spawn('gst-launch-1.0', ['-q', '-e', 'fdsrc', 'fd=0', '!', 'rawvideoparse', `width=${width}`, `height=${height}`, 'format=rgb', `framerate=${fps}/1`, '!', 'videoconvert', '!', 'video/x-raw,format=I420', '!', 'x264enc', 'tune=zerolatency', 'speed-preset=veryfast', `key-int-max=${fps}`, '!', 'h264parse', '!', 'mp4mux', '!', 'filesink', `location=${tmp}`], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  gst.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((r) => gst.on('close', (code) => r(code ?? 1)));
  return {
    write: (buf) => new Promise((resolve, reject) => gst.stdin.write(buf, (e) => (e ? reject(e) : resolve()))),
    finish: async (what) => {
      gst.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`encoding ${what} failed (gst-launch exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`);
      renameSync(tmp, out);
    },
  };
}

/** A photo's width / height as it is shown (EXIF orientation applied). */
async function photoAspect(photo: string): Promise<number> {
  const meta = await (await loadSharp())(photo).rotate().metadata();
  return (meta.autoOrient?.width ?? meta.width ?? 1) / (meta.autoOrient?.height ?? meta.height ?? 1);
}

/** One frame: `bg` with each photo resized into its place, the parts outside the frame cut as a camera would. */
async function composite(bg: Buffer, width: number, height: number, people: readonly { readonly photo: string; readonly place: { left: number; top: number; w: number; h: number } }[]): Promise<Buffer> {
  const sharp = await loadSharp();
  const layers: { input: Buffer; left: number; top: number }[] = [];
  for (const { photo, place: p } of people) {
    const left = Math.max(0, p.left);
    const top = Math.max(0, p.top);
    const w = Math.min(p.w - (left - p.left), width - left);
    const h = Math.min(p.h - (top - p.top), height - top);
    if (w <= 0 || h <= 0) continue;
    const resized = await sharp(photo).rotate().resize(p.w, p.h, { fit: 'fill' }).removeAlpha().toBuffer();
    layers.push({ input: await sharp(resized).extract({ left: left - p.left, top: top - p.top, width: w, height: h }).toBuffer(), left, top });
  }
  if (layers.length === 0) return bg;
  const { data, info } = await sharp(bg, { raw: { width, height, channels: 3 } }).composite(layers).raw().toBuffer({ resolveWithObject: true });
  return info.channels === 3 ? data : dropAlpha(data);
}

/**
 * Render the "door camera" clip: real identity photos walking up one after another, encoded to
 * H.264 in MP4 by GStreamer (x264enc). Written to `out` atomically; reused when it exists.
 */
export async function renderDoorClip(visitors: readonly DoorVisitor[], out: string, opts: DoorClipOptions = {}): Promise<{ path: string; frames: number; durationMs: number }> {
  const width = opts.width ?? 1280;
  const height = opts.height ?? 720;
  const fps = opts.fps ?? 10;
  const walk = Math.round((opts.secondsPerVisitor ?? 4) * fps);
  const gap = Math.round((opts.gapSeconds ?? 1.5) * fps);
  const frames = visitors.length * (walk + gap) + gap;
  const durationMs = (frames / fps) * 1000;
  if (existsSync(out)) return { path: out, frames, durationMs };
  const { write, finish } = clipEncoder(out, width, height, fps);
  const bg = await background(width, height);
  for (let g = 0; g < gap; g++) await write(bg);
  for (const [i, v] of visitors.entries()) {
    const aspect = await photoAspect(v.photo);
    for (let f = 0; f < walk; f++) await write(await composite(bg, width, height, [{ photo: v.photo, place: visitorPlacement(f / (walk - 1), width, height, aspect, i % 2 ? 1 : -1) }]));
    for (let g = 0; g < gap; g++) await write(bg);
  }
  await finish('the door clip');
  return { path: out, frames, durationMs };
}

export interface PairClipOptions {
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
  /** How long each visitor takes to walk in. */
  readonly secondsPerVisitor?: number;
  /** How long the first visitor stands alone (long enough to be recognised) before the second comes in. */
  readonly standSeconds?: number;
  /** How long both stand in view at the end. */
  readonly togetherSeconds?: number;
}

/**
 * Where a visitor of the pair clip is: walking in from one edge (`side` -1: left, 1: right) to a
 * third of the way in from that edge, then standing there with a slight sway (nobody stands still),
 * their photo a third to a half of the frame high.
 */
export function pairPlacement(t: number, standFrame: number, width: number, height: number, aspect: number, side: 1 | -1): { left: number; top: number; w: number; h: number } {
  const e = Math.min(1, t) * Math.min(1, t) * (3 - 2 * Math.min(1, t));
  const h = Math.round(height * (0.35 + 0.15 * e));
  const w = Math.round(h * aspect);
  const from = side < 0 ? -0.05 : 1.05;
  const to = side < 0 ? 0.3 : 0.7;
  const sway = t >= 1 ? 0.004 * Math.sin(standFrame / 3) : 0;
  const cx = width * (from + (to - from) * e + sway);
  const cy = height * 0.55;
  return { left: Math.round(cx - w / 2), top: Math.round(cy - h / 2), w, h };
}

/**
 * Render the "second visitor" clip: the first visitor walks in from the left and stands there;
 * `standSeconds` later (recognised by then) the second walks in from the right while the first is
 * still in view; both stand for `togetherSeconds`; then the empty door for a second. The case a
 * detection interval could be slow on: a new face beside one whose recognition has settled.
 * Encoded like the door clip; written to `out` atomically, reused when it exists.
 */
export async function renderPairClip(first: DoorVisitor, second: DoorVisitor, out: string, opts: PairClipOptions = {}): Promise<{ path: string; frames: number; durationMs: number }> {
  const width = opts.width ?? 1280;
  const height = opts.height ?? 720;
  const fps = opts.fps ?? 10;
  const walk = Math.round((opts.secondsPerVisitor ?? 3) * fps);
  const stand = Math.round((opts.standSeconds ?? 3) * fps);
  const together = Math.round((opts.togetherSeconds ?? 2) * fps);
  const empty = fps;
  const frames = empty + walk + stand + walk + together + empty;
  const durationMs = (frames / fps) * 1000;
  if (existsSync(out)) return { path: out, frames, durationMs };
  const { write, finish } = clipEncoder(out, width, height, fps);
  const bg = await background(width, height);
  const [a, b] = [await photoAspect(first.photo), await photoAspect(second.photo)];
  for (let f = 0; f < empty; f++) await write(bg);
  for (let f = 0; f < walk + stand + walk + together; f++) {
    const people = [{ photo: first.photo, place: pairPlacement(f / (walk - 1), f - walk, width, height, a, -1) }];
    const g = f - walk - stand;
    if (g >= 0) people.push({ photo: second.photo, place: pairPlacement(g / (walk - 1), g - walk, width, height, b, 1) });
    await write(await composite(bg, width, height, people));
  }
  for (let f = 0; f < empty; f++) await write(bg);
  await finish('the pair clip');
  return { path: out, frames, durationMs };
}

export interface IdleClipOptions {
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
  readonly seconds?: number;
  /** Per-pixel sensor noise, standard deviation in grey levels. */
  readonly noiseSigma?: number;
  /** Slow light change: brightness swings by this many grey levels (+-) over the clip. */
  readonly lightSwing?: number;
  readonly seed?: number;
}

/**
 * Render the door camera with nobody there: the door clip's background with per-pixel sensor noise
 * (fresh every frame), a slow brightness swing (one sine period over the clip) and H.264
 * compression (the same x264 settings as the door clip). What a door camera sees most of the day.
 * Written atomically beside `requested`, the encoding in its name (`idle-30s.mp4` -> `idle-30s-h264-420.mp4`:
 * the returned `path`); reused when it exists.
 */
export async function renderIdleClip(requested: string, opts: IdleClipOptions = {}): Promise<{ path: string; frames: number; durationMs: number }> {
  const out = requested.replace(/(\.mp4)?$/, `-${CLIP_ENCODING}.mp4`);
  const width = opts.width ?? 1280;
  const height = opts.height ?? 720;
  const fps = opts.fps ?? 10;
  const frames = Math.round((opts.seconds ?? 30) * fps);
  const durationMs = (frames / fps) * 1000;
  if (existsSync(out)) return { path: out, frames, durationMs };
  const { write, finish } = clipEncoder(out, width, height, fps);
  const bg = await background(width, height);
  // One long plane of Gaussian noise, read from a random offset each frame: fresh-looking noise
  // per frame without drawing millions of samples per frame.
  const rand = mulberry32(opts.seed ?? 1);
  const sigma = opts.noiseSigma ?? 3;
  const plane = new Int8Array(bg.length + 65_536);
  for (let i = 0; i < plane.length; i++) plane[i] = Math.max(-127, Math.min(127, Math.round(sigma * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()))));
  const swing = opts.lightSwing ?? 12;
  const frame = Buffer.allocUnsafe(bg.length);
  for (let f = 0; f < frames; f++) {
    const light = swing * Math.sin((2 * Math.PI * f) / frames);
    const off = Math.floor(rand() * 65_536);
    for (let i = 0; i < bg.length; i++) {
      const v = bg[i] + light + plane[off + i];
      frame[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    await write(frame);
  }
  await finish('the idle clip');
  return { path: out, frames, durationMs };
}

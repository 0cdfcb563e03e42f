/**
 * The `cameras:` section: the source shapes are src/ingest's SourceConfig, with its defaults made
 * explicit; `url` is the rtsp shorthand, turned into a full source by the schema itself.
 */
import { z } from 'zod';
import { DEFAULT_BACKOFF } from '../lib/backoff.ts';
import { IDLE_DECODE_DEFAULT, IDLE_DECODE_MODES, idleKeyframesProblem } from './idle-decode.ts';
import { MAX_ITEMS, MAX_LENGTH } from './limits.ts';
import { filePath, positiveInt, slug, unit, type IssueParams } from './schema-common.ts';
import { decodesToSystemMemory } from '../ingest/types.ts';

const rtspUrl = z.string().max(MAX_LENGTH.url).regex(/^rtsps?:\/\/\S+$/i, { error: 'expected an rtsp:// or rtsps:// URL' });
const codec = z.enum(['auto', 'h264', 'h265']);

export const rtspSourceSchema = z.strictObject({
  kind: z.literal('rtsp'),
  /** May carry credentials (`rtsp://user:pass@host/...`): never logged, never echoed in errors. */
  url: rtspUrl,
  transport: z.enum(['tcp', 'udp']).default('tcp').meta({ description: 'tcp works through NAT and loses no packets; udp for cameras that only do UDP' }),
  latencyMs: z.number().int().min(0).default(0).meta({ description: 'rtspsrc jitter buffer; 0 = newest frame first' }),
  codec: codec.default('h264').meta({ description: "'auto' (decodebin) needs the cpu decoder" }),
});

export const fileSourceSchema = z.strictObject({
  kind: z.literal('file'),
  path: filePath,
  loop: z.boolean().default(false),
  realtime: z.boolean().default(true).meta({ description: "play at the clip's own speed like a camera" }),
  lossless: z.boolean().default(false).meta({ description: 'never drop a frame (offline processing)' }),
  codec: codec.default('auto'),
});

export const testSourceSchema = z.strictObject({
  kind: z.literal('test'),
  pattern: z
    .string()
    .max(MAX_LENGTH.word)
    .regex(/^[a-z0-9-]+$/i, { error: 'expected a videotestsrc pattern name such as smpte or ball' })
    .default('smpte'),
  width: positiveInt.default(640),
  height: positiveInt.default(480),
  fps: positiveInt.default(15),
});

export const pipelineSourceSchema = z.strictObject({
  kind: z.literal('pipeline'),
  pipeline: z.string().min(1).max(MAX_LENGTH.fragment).meta({ description: 'gst-launch fragment that outputs raw video, e.g. `v4l2src device=/dev/video0`' }),
});

export const sourceSchema = z.discriminatedUnion('kind', [rtspSourceSchema, fileSourceSchema, testSourceSchema, pipelineSourceSchema]);

export const decoderSchema = z.union([z.enum(['cpu', 'openh264', 'jetson', 'nvdec']), z.strictObject({ custom: z.string().min(1).max(MAX_LENGTH.fragment) })], {
  error: "expected 'cpu', 'openh264', 'jetson', 'nvdec' or { custom: '<gst-launch fragment that decodes the parsed stream>' }",
});

export const zoneSchema = z.strictObject({
  id: slug,
  /** Corners in normalised frame coordinates: [x, y] with 0..1 from the top-left. */
  polygon: z.array(z.tuple([unit, unit])).min(3, { error: 'a zone polygon needs at least 3 corners' }).max(MAX_ITEMS.polygon),
});

export const detectorSettingsSchema = z.strictObject({
  tier: z.string().min(1).max(MAX_LENGTH.word).default('500m').meta({ description: "'500m', '2.5g' or a tier from the model manifest; the fallback when budgetMs has no profile" }),
  model: z.string().min(1).max(MAX_LENGTH.name).optional().meta({ description: 'a manifest model name; overrides tier' }),
  budgetMs: z.number().positive().optional().meta({ description: 'pick the most accurate tier that fits this per-frame budget (needs a detect profile)' }),
  size: z.number().int().min(32).multipleOf(32).default(640).meta({ description: 'long-side input size, a multiple of 32' }),
  interval: z
    .number()
    .int()
    .min(1)
    .max(30)
    .default(5)
    .meta({ description: "once every tracked face's recognition has settled (its confirming looks and liveness are in), detect every interval-th frame and let the tracker predict in between (1 = every frame); appearing faces and faces still being recognised always get every frame, and motion beside the tracked faces (someone else coming in) gets the next frame" }),
});

export const motionSchema = z.strictObject({
  enabled: z.boolean().default(true).meta({ description: 'detect only while something moves or faces are tracked (plus keepAliveMs); off = every frame' }),
  keepAliveMs: positiveInt.max(60_000).default(2000).meta({ description: 'with no motion and no tracks, still detect once per this many ms' }),
  minArea: z.number().gt(0).max(1).default(0.002).meta({ description: 'share of the motion thumbnail that must change for motion' }),
  noiseFactor: z.number().min(1).max(100).default(6).meta({ description: "a cell changed when its difference exceeds this many times the camera's measured noise floor (median absolute difference)" }),
  idleDecode: z
    .enum(IDLE_DECODE_MODES)
    .default(IDLE_DECODE_DEFAULT)
    .meta({
      description:
        "'keyframes': while nothing moves and no face is tracked, decode one key frame per idleKeyframeMs instead of every frame (the stream is still received and parsed); a delta frame much larger than the idle ones, or motion in a decoded key frame, wakes full decoding. Needs an rtsp or file source with codec h264 or h265",
    }),
  idleSleepMs: positiveInt.max(600_000).default(2000).meta({ description: 'idleDecode keyframes: nothing to do for this long before the decoder gets key frames only' }),
  idleKeyframeMs: positiveInt.max(60_000).default(2000).meta({ description: 'idleDecode keyframes: while idle, decode one key frame per this many ms (every key frame when they come further apart); the default matches keepAliveMs, so each decoded key frame is also the keep-alive detection' }),
});

const cameraObjectSchema = z.strictObject({
  id: slug,
  name: z.string().min(1).max(MAX_LENGTH.name).optional(),
  /** Shorthand for `source: { kind: rtsp, url }`. */
  url: rtspUrl.optional().meta({ description: 'shorthand for source: { kind: rtsp, url }' }),
  source: sourceSchema.optional(),
  decoder: decoderSchema.default('cpu'),
  fps: z.number().int().min(1).max(120).default(5).meta({ description: 'upper bound on frames per second processed (dropped in the pipeline)' }),
  width: positiveInt.optional().meta({ description: "scale to this width in GStreamer; default the stream's own" }),
  height: positiveInt.optional(),
  rotate: z
    .union([z.literal(0), z.literal(90), z.literal(180), z.literal(270)])
    .default(0)
    .meta({ description: 'turn every frame clockwise by this many degrees (a sideways-mounted sensor; a CPU decoder only: cpu or openh264); a file source\'s own rotation tag is applied anyway' }),
  detector: detectorSettingsSchema.prefault({}),
  motion: motionSchema.prefault({}),
  detectScale: z
    .boolean()
    .default(true)
    .meta({ description: 'GStreamer also delivers a copy scaled to detector.size (long side, aspect kept) for the detector; frames stay full resolution for recognition' }),
  zones: z.array(zoneSchema).max(MAX_ITEMS.zones).optional(),
  watchdog: z
    .strictObject({
      stallMs: positiveInt.default(5000).meta({ description: 'no frame for this long: the pipeline is rebuilt' }),
      startMs: positiveInt.default(15_000).meta({ description: 'a (re)start must deliver its first frame within this' }),
    })
    .prefault({}),
  backoff: z
    .strictObject({
      baseMs: positiveInt.default(DEFAULT_BACKOFF.baseMs),
      maxMs: positiveInt.default(DEFAULT_BACKOFF.maxMs),
      factor: z.number().min(1).default(DEFAULT_BACKOFF.factor),
      jitter: unit.default(DEFAULT_BACKOFF.jitter),
    })
    .prefault({}),
  stableMs: positiveInt.default(10_000).meta({ description: 'a run that stayed up this long resets the backoff (it also resets as soon as frames flow again: camera.up)' }),
});

export const cameraSchema = cameraObjectSchema
  .superRefine((c, ctx) => {
    if (c.url !== undefined && c.source !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'give either `url` or `source`, not both', params: { hint: 'remove `url`, or remove `source` and keep the rtsp shorthand' } satisfies IssueParams });
    } else if (c.url === undefined && c.source === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'a camera needs a `url` or a `source`',
        params: { hint: 'add `url: rtsp://host:554/stream` or `source: { kind: file, path: clip.mp4 }`' } satisfies IssueParams,
      });
    }
    const src = c.source;
    if (src && (src.kind === 'rtsp' || src.kind === 'file') && src.codec === 'auto' && c.decoder !== 'cpu') {
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'codec'],
        message: "codec 'auto' needs the cpu decoder",
        params: { hint: 'set `codec: h264` or `codec: h265` for this decoder' } satisfies IssueParams,
      });
    }
    if (c.motion.idleDecode === 'keyframes') {
      const problem = idleKeyframesProblem(c);
      if (problem) ctx.addIssue({ code: 'custom', path: [...problem.path], message: problem.message, params: { hint: problem.hint } satisfies IssueParams });
    }
    if (c.decoder === 'openh264' && src && (src.kind === 'rtsp' || src.kind === 'file') && src.codec === 'h265') {
      ctx.addIssue({
        code: 'custom',
        path: ['decoder'],
        message: 'the openh264 decoder decodes H.264 only, and this camera sends H.265',
        params: { hint: 'set `decoder: cpu` for an H.265 camera' } satisfies IssueParams,
      });
    }
    if (c.rotate && !decodesToSystemMemory(c.decoder)) {
      ctx.addIssue({
        code: 'custom',
        path: ['rotate'],
        message: 'rotate needs a CPU decoder, cpu or openh264 (hardware decoders hand over device memory, which videoflip cannot turn)',
        params: { hint: 'set `decoder: cpu`, or turn the image in the camera\'s own settings' } satisfies IssueParams,
      });
    }
    const zoneIds = new Map<string, number>();
    c.zones?.forEach((z, i) => {
      const first = zoneIds.get(z.id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['zones', i, 'id'], message: `duplicate zone id '${z.id}' (also zones[${first}])`, params: { hint: 'give every zone of a camera its own id' } satisfies IssueParams });
      else zoneIds.set(z.id, i);
    });
  })
  .transform(({ url, source, ...rest }) => ({
    ...rest,
    // The shorthand goes through the rtsp schema, so its defaults stay in one place.
    source: source ?? rtspSourceSchema.parse({ kind: 'rtsp', url }),
  }));

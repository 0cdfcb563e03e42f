/**
 * The facegate configuration: one zod schema that holds every default (nowhere else), with strict
 * objects at every depth (a misspelt key is an error, never a silently ignored line) and the checks
 * that span sections (camera/gate ids, gate cameras, anti-passback pairs, auth on a public bind).
 *
 * Paths in the file (databases, snapshot folder, TLS files, file sources) are relative to the
 * config file's folder; parseConfig/loadConfig resolve them (see parse.ts).
 */
import { z } from 'zod';
import { gateSchema } from '../gates/index.ts';
import { DEFAULT_BACKOFF } from '../lib/backoff.ts';
import { describeBadText, findBadText } from '../lib/text.ts';
import { redactText, urlSecrets } from '../redact.ts';
import { nodeIdReason, reservedTopicReason, suggestSlug, topicLevelCollisions, type LevelOwner } from './topic-rules.ts';
import { fleetSchema } from './fleet.ts';
import { boundsIssues, DEFAULT_CAMERA_START_STAGGER_MS, DEFAULT_MAX_CAMERAS, MAX_CAMERA_START_STAGGER_MS, MAX_ITEMS, MAX_LENGTH } from './limits.ts';

/** A hint for a person, carried on custom issues as `params.hint`. */
export interface IssueParams {
  readonly hint?: string;
}

const SLUG = /^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$/;
const slug = z.string().regex(SLUG, { error: "expected a slug: lowercase letters, digits, '-' and '_' (e.g. 'front-door'), at most 64 characters" });
const filePath = z.string().min(1).max(MAX_LENGTH.path);
const positiveInt = z.number().int().min(1);
const unit = z.number().min(0).max(1);
const similarity = z.number().min(-1).max(1);

// ---------------------------------------------------------------------------------------------
// cameras: the source shapes are src/ingest's SourceConfig, with its defaults made explicit.

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

export const decoderSchema = z.union([z.enum(['cpu', 'jetson', 'nvdec']), z.strictObject({ custom: z.string().min(1).max(MAX_LENGTH.fragment) })], {
  error: "expected 'cpu', 'jetson', 'nvdec' or { custom: '<gst-launch fragment that decodes the parsed stream>' }",
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
  detector: detectorSettingsSchema.prefault({}),
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

// ---------------------------------------------------------------------------------------------

const ORIGIN = /^https?:\/\/(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

export const serverSchema = z.strictObject({
  bind: z.string().min(1).max(MAX_LENGTH.host).default('127.0.0.1').meta({ description: "address to listen on; loopback by default. '0.0.0.0' exposes the API to the network" }),
  port: z.number().int().min(0).max(65_535).default(8640),
  tls: z.strictObject({ cert: filePath, key: filePath }).optional().meta({ description: 'PEM files; relative to the config file' }),
  allowedOrigins: z
    .array(z.string().max(MAX_LENGTH.origin).regex(ORIGIN, { error: "expected an origin such as 'https://door.example.com' (scheme, host, optional port; no path)" }))
    .max(MAX_ITEMS.allowedOrigins)
    .default([])
    .meta({ description: 'browser Origins allowed to open the WebSocket; non-browser clients send none' }),
  maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
  wsSendBufferMessages: z.number().int().min(1).max(1_000_000).default(1000).meta({ description: 'messages queued per slow client before it is dropped' }),
  /** What a door on a network meets: file-descriptor exhaustion, slowloris, token guessing. */
  limits: z
    .strictObject({
      maxConnections: z.number().int().min(1).max(1_000_000).default(1024).meta({ description: 'open TCP connections (HTTP + WebSocket) before new ones get 503' }),
      maxConnectionsPerAddress: z.number().int().min(1).max(1_000_000).default(64).meta({ description: 'open connections from one remote address' }),
      headersTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).meta({ description: 'time a client has to send complete request headers' }),
      requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000).meta({ description: 'time a client has to send a whole request (uploads included)' }),
      idleTimeoutMs: z.number().int().min(100).max(600_000).default(5_000).meta({ description: 'an idle keep-alive HTTP connection is closed after this' }),
      authFailuresPerMinute: z.number().int().min(1).max(1_000_000).default(20).meta({ description: 'failed authentications per remote address per minute before 429' }),
    })
    .prefault({}),
});

export const tokenSchema = z.strictObject({
  id: z.string().min(1).max(64).meta({ description: 'who holds the token (shown in logs and events)' }),
  role: z.enum(['viewer', 'operator', 'admin']),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, { error: 'expected the sha256 hex of the token (64 characters)' })
    .meta({ description: 'sha256 hex of the token (`facegate config hash-token`); tokens are never stored' }),
});

/**
 * Auth is on by default. With no tokens nobody can connect (the health probes excepted), which is
 * the safe failure; configWarnings() says so. Turning auth off is refused on a non-loopback bind.
 */
export const authSchema = z.strictObject({
  enabled: z.boolean().default(true),
  tokens: z.array(tokenSchema).max(MAX_ITEMS.tokens).default([]),
});

/**
 * The embedder new installs use: InsightFace w600k_mbf (512-d, WebFace600K) as the INT8 copy in
 * ../shared/models dequantised back to float32 on first use. Chosen from `facegate eval` (README,
 * accuracy table): same rank-1 / TAR as the 128-d models on bare faces, but real masked people
 * separate from real masked strangers, which the 128-d MobileFaceNets do not.
 */
export const DEFAULT_EMBEDDER = 'w600k_mbf_dq';

/**
 * Where a model runs: `cpu`, `webgpu` (Dawn on Vulkan: an NVIDIA/AMD/Intel driver's Vulkan, or
 * Mesa's lavapipe on CPU-only boxes), `cuda` or `tensorrt` (need onnxruntime-node's CUDA add-on).
 * The long form adds a GPU index and `required: true` (fail instead of falling back to CPU).
 */
const PROVIDER_NAMES = ['cpu', 'webgpu', 'cuda', 'tensorrt'] as const;
export const providerSpecSchema = z.union(
  [
    z.enum(PROVIDER_NAMES),
    z.strictObject({
      name: z.enum(PROVIDER_NAMES),
      deviceId: z.number().int().min(0).max(64).optional().meta({ description: 'GPU index for cuda / tensorrt (default 0)' }),
      required: z.boolean().default(false).meta({ description: 'fail at start when the provider cannot run (default: warn and use CPU)' }),
    }),
  ],
  {
    // The union's own message would be "Invalid input": say what is accepted, with what was given.
    error: (issue) => {
      const given = issue.input;
      const name = typeof given === 'string' ? given : given !== null && typeof given === 'object' && 'name' in given ? String((given as { name: unknown }).name) : undefined;
      return `expected one of ${PROVIDER_NAMES.map((n) => `'${n}'`).join(', ')}${name === undefined ? ' or { name, deviceId, required }' : `, got '${name}'`}`;
    },
  },
);

export const modelsSchema = z.strictObject({
  executionProvider: providerSpecSchema.default('cpu').meta({ description: 'default for every model role' }),
  /** Per role, overriding executionProvider (e.g. the detector on the GPU, the small classifiers on CPU). */
  providers: z
    .strictObject({
      detector: providerSpecSchema.optional(),
      embedder: providerSpecSchema.optional(),
      classifiers: providerSpecSchema.optional().meta({ description: 'mask and liveness models' }),
    })
    .prefault({}),
  threads: z.number().int().min(0).max(256).default(0).meta({ description: "intra-op threads per session; 0 = the default, 1 (measured: on a few cores an ORT thread pool runs SCRFD no faster and wakes a thread per run)" }),
  sessionThread: z.enum(['main', 'worker']).default('main').meta({ description: "where model sessions run: 'main' (the calling thread; least CPU and memory on small boxes) or 'worker' (a thread per session: the event loop stays free during runs)" }),
  embedder: z.string().min(1).default(DEFAULT_EMBEDDER),
  mask: z.string().min(1).default('seetaface6_mask'),
  liveness: z
    .strictObject({
      enabled: z.boolean().default(false),
      models: z.array(z.string().min(1)).min(1).default(['minifasnet_v2', 'minifasnet_v1se']),
    })
    .prefault({}),
});

/**
 * Similarity thresholds belong to the embedder (a 128-d and a 512-d model put the same two faces
 * at very different cosines), so by default they come from the embedder's calibration: a local
 * `facegate eval --write-thresholds` file, else the manifest's shipped values. Set them here only
 * to override that for this site.
 */
export const recognitionSchema = z.strictObject({
  thresholds: z
    .strictObject({
      unmasked: similarity.optional().meta({ description: "cosine similarity for a match, bare face (default: the embedder's calibrated value)" }),
      masked: similarity.optional().meta({ description: "cosine similarity for a match, masked face (default: the embedder's calibrated value)" }),
    })
    .prefault({}),
  maskThreshold: unit.default(0.5).meta({ description: 'mask probability at or above which a face counts as masked' }),
  bestShot: z
    .strictObject({
      minQuality: unit.default(0.15),
      improvement: z.number().min(0).default(0.2),
      maxRuns: positiveInt.default(4),
      confirmRuns: positiveInt.default(3),
      minGapFrames: z.number().int().min(0).default(3),
    })
    .prefault({}),
  unknownThreshold: similarity.optional().meta({ description: "similarity that merges an unknown face into an existing unknown (default: the embedder's calibrated unmasked threshold)" }),
});

// events.outputs.mqtt: the MQTT / Home Assistant sink (src/outputs). Secrets: the URL may not carry
// credentials (a URL is echoed in logs and tickets); the password is `password` or, better, a
// file that only the service user reads.
const MQTT_URL = /^(?:mqtts?|wss?):\/\/\S+$/i;
/** An MQTT topic level path without wildcards, empty levels at the ends, or NUL. */
const MQTT_TOPIC = /^[^#+\s\u0000/](?:[^#+\s\u0000]*[^#+\s\u0000/])?$/;
const topicPrefix = z.string().max(MAX_LENGTH.name).regex(MQTT_TOPIC, { error: "expected MQTT topic levels without wildcards or spaces, e.g. 'facegate/door-1' (no leading or trailing '/')" });
// The event type patterns of src/events/filter.ts (config does not import the events stage).
const TYPE_PATTERN = /^(\*|[a-z]+(\.[a-z]+)*(\.\*)?)$/;

export const mqttOutputSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    url: z.string().min(1).max(MAX_LENGTH.url).optional().meta({ description: 'broker URL, without credentials (use username + passwordFile)' }),
    nodeId: slug.optional().meta({ description: "this facegate in topics and Home Assistant (default: the host name, lower-cased, other characters as '-')" }),
    clientId: z.string().min(1).max(MAX_LENGTH.id).regex(/^[A-Za-z0-9_-]+$/, { error: "expected letters, digits, '-' and '_'" }).optional().meta({ description: 'MQTT client id (default facegate-<nodeId>)' }),
    username: z.string().min(1).max(MAX_LENGTH.name).optional(),
    password: z.string().min(1).max(MAX_LENGTH.secret).optional().meta({ description: 'prefer passwordFile; never logged' }),
    passwordFile: filePath.optional().meta({ description: 'file holding the password (first line); read at start' }),
    tls: z.strictObject({ ca: filePath.optional(), cert: filePath.optional(), key: filePath.optional() }).optional().meta({ description: 'PEM files for mqtts:// / wss:// (ca: a private CA; cert + key: client certificate)' }),
    topicPrefix: topicPrefix.optional().meta({ description: 'default facegate/<nodeId>' }),
    discovery: z
      .strictObject({
        enabled: z.boolean().default(true),
        prefix: topicPrefix.default('homeassistant'),
      })
      .prefault({}),
    qos: z.number().int().min(0).max(2).default(1).meta({ description: 'QoS of events (0, 1 or 2); retained state topics use the same' }),
    types: z
      .array(z.string().max(MAX_LENGTH.word).regex(TYPE_PATTERN, { error: "expected an event type ('gate.denied'), a family ('gate.*') or '*'" }))
      .min(1)
      .max(100)
      .default(['*'])
      .meta({ description: 'event types published on <prefix>/events' }),
    commands: z.boolean().default(false).meta({ description: 'accept OPEN / LOCK on <prefix>/gate/<id>/set (audited, actor mqtt:<sender user property> or mqtt:unidentified)' }),
    // A flood of OPENs would open the door once each: a person on a dashboard never needs that.
    commandLimit: z
      .strictObject({
        perMinute: z.number().min(0.1).max(600).default(12).meta({ description: 'commands per gate and action (OPEN, LOCK) per minute, refilled evenly' }),
        burst: z.number().int().min(1).max(100).default(3).meta({ description: 'commands per gate and action accepted at once before the rate applies' }),
      })
      .prefault({})
      .meta({ description: 'excess commands are refused and logged once per minute per gate and action, with the count' }),
    echoCheck: z
      .strictObject({
        enabled: z.boolean().default(true),
        timeoutMs: z.number().int().min(100).max(60_000).default(5000).meta({ description: 'the test message must come back within this' }),
      })
      .prefault({})
      .meta({ description: 'at every connect, subscribe to <prefix>/echo/<clientId>, publish a test message there and expect it back: a broker that accepts publishes but drops them shows as a warning in the health' }),
    unlockedMs: z.number().int().min(100).max(3_600_000).default(5000).meta({ description: 'a gate reads UNLOCKED this long after a grant or a manual open' }),
  })
  .superRefine((m, ctx) => {
    if (m.enabled && m.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when mqtt is enabled', params: { hint: 'add `url: mqtt://HOST:1883`, or set `enabled: false`' } satisfies IssueParams });
    }
    if (m.url !== undefined && !MQTT_URL.test(m.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'expected an mqtt://, mqtts://, ws:// or wss:// URL', params: { hint: 'for example mqtt://192.0.2.5:1883 (mqtts:// for TLS, ws:// for MQTT over WebSocket)' } satisfies IssueParams });
    } else if (m.url !== undefined && urlSecrets(m.url).length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'the URL carries credentials (user:password@ or a password parameter); they would show in logs',
        params: { hint: 'write the URL without them and set `username:` and `passwordFile:` (or `password:`) instead' } satisfies IssueParams,
      });
    }
    if (m.password !== undefined && m.passwordFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give either `password` or `passwordFile`, not both', params: { hint: 'keep passwordFile (the password stays out of the config) and remove password' } satisfies IssueParams });
    }
    if ((m.password !== undefined || m.passwordFile !== undefined) && m.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'a password needs a username', params: { hint: 'add `username: facegate` (the broker user)' } satisfies IssueParams });
    }
    const nodeWhy = m.nodeId === undefined ? undefined : nodeIdReason(m.nodeId);
    if (nodeWhy) ctx.addIssue({ code: 'custom', path: ['nodeId'], message: nodeWhy, params: { hint: "write it without '_gate_' and '_camera_', e.g. with '-' instead of '_'" } satisfies IssueParams });
    const reserved: Array<[(string | number)[], string | undefined, string]> = [
      [['topicPrefix'], m.topicPrefix, "use an ordinary prefix such as 'facegate/door-1' (or leave it out: facegate/<nodeId>)"],
      [['discovery', 'prefix'], m.discovery.prefix, "use Home Assistant's discovery prefix, 'homeassistant' unless you changed it there"],
    ];
    for (const [path, topic, hint] of reserved) {
      const why = topic === undefined ? undefined : reservedTopicReason(topic);
      if (why) ctx.addIssue({ code: 'custom', path, message: `${why}; every message published under it would be lost`, params: { hint } satisfies IssueParams });
    }
    if (m.tls && (m.tls.cert === undefined) !== (m.tls.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', m.tls.cert === undefined ? 'cert' : 'key'], message: 'a client certificate needs both cert and key', params: { hint: 'set both tls.cert and tls.key, or neither' } satisfies IssueParams });
    }
  });

export const eventsSchema = z.strictObject({
  db: filePath.default('data/events.sqlite'),
  retention: z
    .strictObject({
      maxAgeDays: positiveInt.default(30),
      maxEvents: positiveInt.default(1_000_000),
    })
    .prefault({}),
  snapshots: z
    .strictObject({
      dir: filePath.default('data/snapshots'),
      retentionDays: positiveInt.default(7),
    })
    .prefault({}),
  outputs: z
    .strictObject({
      ws: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
      /** Absent = no MQTT sink (so the defaults of a file without it stay as they were). */
      mqtt: mqttOutputSchema.optional(),
    })
    .prefault({}),
});

export const gallerySchema = z.strictObject({
  db: filePath.default('data/gallery.sqlite'),
});

export const loggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i;
export const isLoopback = (bind: string): boolean => LOOPBACK.test(bind);

/**
 * How much one facegate may be asked to run. Every string and list in the file has a fixed
 * ceiling besides (src/config/limits.ts); these two are the ones a person tunes.
 */
export const limitsSchema = z.strictObject({
  maxCameras: z
    .number()
    .int()
    .min(1)
    .max(MAX_ITEMS.cameras)
    .default(DEFAULT_MAX_CAMERAS)
    .meta({ description: 'more cameras than this is an error; raise it deliberately (a 2-core box was measured at 4 cameras at 720p / 5 fps)' }),
  cameraStartStaggerMs: z
    .number()
    .int()
    .min(0)
    .max(MAX_CAMERA_START_STAGGER_MS)
    .default(DEFAULT_CAMERA_START_STAGGER_MS)
    .meta({ description: 'cameras start one after another, this many ms apart (at start and on hot reload)' }),
});

const configObjectSchema = z.strictObject({
  server: serverSchema.prefault({}),
  auth: authSchema.prefault({}),
  models: modelsSchema.prefault({}),
  limits: limitsSchema.prefault({}),
  cameras: z.array(cameraSchema).max(MAX_ITEMS.cameras).default([]),
  recognition: recognitionSchema.prefault({}),
  /** Validated by the gates module's own schema (src/gates). */
  gates: z.array(gateSchema).default([]),
  events: eventsSchema.prefault({}),
  gallery: gallerySchema.prefault({}),
  logging: loggingSchema.prefault({}),
  /** Absent = a standalone box (issue 10: src/config/fleet.ts). */
  fleet: fleetSchema.optional(),
});

type Loose = Readonly<Record<string, unknown>>;
const isRecord = (v: unknown): v is Loose => typeof v === 'object' && v !== null && !Array.isArray(v);
const records = (v: unknown): Loose[] => (Array.isArray(v) ? v.map((x) => (isRecord(x) ? x : {})) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface CrossCheckIssue {
  readonly path: (string | number)[];
  readonly message: string;
  readonly hint: string;
}

/**
 * Checks across sections. They run even when another part of the file is invalid (so one pass
 * lists every problem), hence the defensive reads: any value may still be of the wrong type. They
 * read the raw document as well as the parsed one (a missing key means its default), so
 * parseConfig also runs them when zod stopped early.
 */
export function crossCheckIssues(data: unknown): CrossCheckIssue[] {
  const out: CrossCheckIssue[] = [];
  if (!isRecord(data)) return out;
  const issue = (path: (string | number)[], message: string, hint: string): void => {
    out.push({ path, message, hint });
  };
  const uniqueIds = (at: string[], items: Loose[], what: string): Map<string, number> => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const id = str(item.id);
      if (id === undefined) return;
      const first = seen.get(id);
      if (first !== undefined) issue([...at, i, 'id'], `duplicate ${what} id '${id}' (also ${at.join('.')}[${first}])`, `give every ${what} its own id`);
      else seen.set(id, i);
    });
    return seen;
  };

  const cameras = uniqueIds(['cameras'], records(data.cameras), 'camera');
  const gates = records(data.gates);
  const gateIds = uniqueIds(['gates'], gates, 'gate');

  // Gate ids become MQTT topic levels and Home Assistant unique ids, like camera ids (slugs by
  // their schema): the same rule, so no id is a wildcard, a level separator or a `$` topic.
  gates.forEach((g, i) => {
    const id = str(g.id);
    if (id === undefined || id.length === 0 || SLUG.test(id)) return;
    // The suggestion is the id rewritten, which redaction would no longer recognise: none for an
    // id that carries a secret (a URL pasted into the wrong line).
    const example = redactText(id) === id ? suggestSlug(id) : 'front-door';
    issue(['gates', i, 'id'], "expected a slug: lowercase letters, digits, '-' and '_' (e.g. 'front-door'), at most 64 characters", `rename it, e.g. '${example}' (and use the new id wherever the gate is named: pairedGateId, API calls, automations)`);
  });
  // Defence in depth: whatever the id rules, no two ids may share a topic level (one gate's
  // command topic would be another's, and both would write one retained state).
  const owners = (kind: string, items: Loose[], section: string): LevelOwner[] =>
    items.flatMap((item, i) => {
      const id = str(item.id);
      return id === undefined ? [] : [{ kind, id, path: [section, i, 'id'] }];
    });
  for (const c of topicLevelCollisions([...owners('camera', records(data.cameras), 'cameras'), ...owners('gate', gates, 'gates')])) {
    const [section, index] = c.first.path;
    issue(
      [...c.second.path],
      `${c.first.kind} ids '${c.first.id}' (${String(section)}[${String(index)}]) and '${c.second.id}' both become the MQTT topic level '${c.level}': a command for one would reach the other`,
      "rename one of them so the ids differ in letters, digits, '-' or '_'",
    );
  }
  const known = [...cameras.keys()];

  const models = isRecord(data.models) ? data.models : {};
  const livenessOn = isRecord(models.liveness) && models.liveness.enabled === true;

  gates.forEach((g, i) => {
    if (Array.isArray(g.cameras)) {
      g.cameras.forEach((c, j) => {
        if (typeof c === 'string' && !cameras.has(c)) {
          issue(['gates', i, 'cameras', j], `unknown camera '${c}'`, known.length ? `use one of the configured cameras: ${known.join(', ')}` : 'add the camera under `cameras:` first');
        }
      });
    }
    // A gate's zone must exist on each of its cameras: a typo would otherwise make the door
    // silently ignore everyone (no face is ever "inside" a zone that does not exist).
    const zone = str(g.zone);
    if (zone !== undefined && Array.isArray(g.cameras)) {
      const cameraList = records(data.cameras);
      g.cameras.forEach((c) => {
        const at = typeof c === 'string' ? cameras.get(c) : undefined;
        if (at === undefined) return;
        const zones = records(cameraList[at].zones).map((z) => str(z.id));
        if (!zones.includes(zone)) {
          issue(['gates', i, 'zone'], `camera '${c}' has no zone '${zone}'`, zones.length ? `use one of its zones (${zones.filter((z) => z !== undefined).join(', ')}), or add '${zone}' under that camera's zones:` : `add \`zones: [{ id: ${zone}, polygon: [[x, y], ...] }]\` to camera '${c}' (corners 0..1 from the top-left)`);
        }
      });
    }
    if (isRecord(g.liveness) && g.liveness.required === true && !livenessOn) {
      issue(['gates', i, 'liveness', 'required'], 'this gate requires liveness but models.liveness.enabled is false', 'set `models: { liveness: { enabled: true } }`, or `required: false` here');
    }
    const ap = isRecord(g.antiPassback) ? g.antiPassback : undefined;
    const pair = str(ap?.pairedGateId);
    const id = str(g.id);
    if (!ap || pair === undefined || id === undefined || pair === id) return;
    const j = gateIds.get(pair);
    const dir = str(ap.direction);
    const other = dir === 'entry' ? 'exit' : 'entry';
    const hint = `configure both gates: '${id}' with antiPassback { pairedGateId: ${pair}, direction: ${dir} } and '${pair}' with { pairedGateId: ${id}, direction: ${other} }`;
    if (j === undefined) {
      issue(['gates', i, 'antiPassback', 'pairedGateId'], `anti-passback pair '${pair}' is not a configured gate`, hint);
      return;
    }
    const back = isRecord(gates[j].antiPassback) ? gates[j].antiPassback : undefined;
    if (!isRecord(back) || str(back.pairedGateId) !== id || str(back.direction) === dir) {
      issue(['gates', i, 'antiPassback'], `gates '${id}' and '${pair}' are not a matching entry/exit anti-passback pair`, hint);
    }
  });

  const auth = isRecord(data.auth) ? data.auth : {};
  const tokens = records(auth.tokens);
  uniqueIds(['auth', 'tokens'], tokens, 'token');
  const hashes = new Map<string, number>();
  tokens.forEach((t, i) => {
    const h = str(t.sha256)?.toLowerCase();
    if (h === undefined) return;
    const first = hashes.get(h);
    if (first !== undefined) issue(['auth', 'tokens', i, 'sha256'], `the same token hash as auth.tokens[${first}]`, 'give every holder its own token (`facegate config hash-token --generate`)');
    else hashes.set(h, i);
  });

  const server = isRecord(data.server) ? data.server : {};
  const bind = str(server.bind) ?? '127.0.0.1';
  if (auth.enabled === false && !isLoopback(bind)) {
    issue(
      ['auth', 'enabled'],
      `auth is off while the API listens on '${bind}', beyond this machine: anyone on the network could watch and open the gates`,
      'turn auth on (`enabled: true`) and add tokens, or bind to 127.0.0.1',
    );
  }
  return out;
}

/**
 * Strings (values and keys) holding a NUL or a lone surrogate, anywhere in the raw document. Such
 * text is valid in YAML (`"\0"`, `"\ud800"` in double quotes) and in JS, but a gate name with it
 * reaches the event log and stops at the fleet hub's PostgreSQL, and a lone surrogate cannot be
 * written as UTF-8 at all. The value itself is never echoed (it may be a password).
 */
export function badTextIssues(data: unknown, maxDepth = 64): CrossCheckIssue[] {
  const out: CrossCheckIssue[] = [];
  const hint = 'remove the character: in YAML it is usually an escape in double quotes ("\\0", "\\x00", "\\ud800") or a paste from a binary file';
  const walk = (v: unknown, path: (string | number)[], depth: number): void => {
    if (depth > maxDepth) return;
    if (typeof v === 'string') {
      const bad = findBadText(v);
      if (bad) out.push({ path, message: describeBadText(bad, 'the value'), hint });
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, i], depth + 1));
    } else if (isRecord(v)) {
      for (const [k, x] of Object.entries(v)) {
        const badKey = findBadText(k);
        if (badKey) {
          out.push({ path, message: describeBadText(badKey, 'a key here'), hint });
          continue;
        }
        walk(x, [...path, k], depth + 1);
      }
    }
  };
  walk(data, [], 0);
  return out;
}

/** The whole configuration file. `Config` is its output: every default filled in. */
export const configSchema = configObjectSchema.superRefine(
  (data, ctx) => {
    // parseConfig checks the bounds on the raw document before zod runs; this is for callers of
    // configSchema itself (and covers the gates, whose schema lives in src/gates).
    for (const i of [...boundsIssues(data), ...badTextIssues(data), ...crossCheckIssues(data)]) ctx.addIssue({ code: 'custom', path: [...i.path], message: i.message, params: { hint: i.hint } satisfies IssueParams });
  },
  { when: (payload) => isRecord(payload.value) },
);

/** What a person writes (everything with a default optional). */
export type ConfigInput = z.input<typeof configSchema>;
/** A parsed configuration: every default filled in, relative paths resolved by parseConfig/loadConfig. */
export type Config = z.output<typeof configSchema>;
export type ServerConfig = Config['server'];
export type AuthConfig = Config['auth'];
export type TokenConfig = AuthConfig['tokens'][number];
export type Role = TokenConfig['role'];
export type ModelsConfig = Config['models'];
export type LimitsConfig = Config['limits'];
export type CameraEntry = Config['cameras'][number];
export type CameraSource = CameraEntry['source'];
export type CameraDecoder = CameraEntry['decoder'];
export type CameraDetectorSettings = CameraEntry['detector'];
export type Zone = z.output<typeof zoneSchema>;
export type RecognitionConfig = Config['recognition'];
export type GateEntry = Config['gates'][number];
export type EventsConfig = Config['events'];
export type MqttOutputConfig = z.output<typeof mqttOutputSchema>;
export type GalleryConfig = Config['gallery'];
export type LoggingConfig = Config['logging'];
export type { FleetConfig } from './fleet.ts';
export type ConfigSection = keyof Config;
export const CONFIG_SECTIONS: readonly ConfigSection[] = Object.keys(configObjectSchema.shape) as ConfigSection[];

/**
 * JSON Schema (draft 2020-12) of what a person writes: defaults shown as `default`, so editors
 * can complete and check the YAML. The cross-section checks are not expressible there;
 * `facegate config check` runs them.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  return { ...schema, title: 'facegate configuration', description: 'facegate config file (YAML). Relative paths resolve against the folder of the file.' };
}

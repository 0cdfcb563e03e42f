/**
 * The `models:` section (which embedder, mask and liveness models, and where each runs) and the
 * `recognition:` section (thresholds and best-shot selection).
 */
import { z } from 'zod';
import { positiveInt, similarity, unit } from './schema-common.ts';

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
  /**
   * Presentation-attack detection, on by default (gates require it by default): the ensemble is
   * run on every frame of a confirmed, frontal-enough track while a gate could still act on it,
   * and the track's liveness is the median of its last `window` scores once `minFrames` are in.
   */
  liveness: z
    .strictObject({
      enabled: z.boolean().default(true).meta({ description: 'load the liveness models (gates[].liveness.required needs them)' }),
      models: z.array(z.string().min(1)).min(1).default(['minifasnet_v2', 'minifasnet_v1se']),
      window: positiveInt.max(1000).default(30).meta({ description: "scores kept per track: the track's liveness is their median" }),
      minFrames: positiveInt.default(5).meta({ description: 'scored frames before a track\'s liveness is known; until then a gate requiring liveness waits' }),
    })
    .refine((l) => l.minFrames <= l.window, { message: 'minFrames must be <= window', path: ['minFrames'] })
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
  // Defaults equal src/recognize/enroll.ts DEFAULT_ENROLLMENT_RULES and src/gallery DEFAULT_NEGATIVE_MARGIN (a unit test holds them together).
  enrollment: z
    .strictObject({
      minEyeDistance: z.number().min(0).default(30).meta({ description: 'refuse enrollment photos whose eyes are closer than this (pixels of the photo)' }),
      maxYaw: z.number().min(0).default(0.45).meta({ description: 'refuse enrollment photos with the head turned more than this (yaw proxy from the landmarks: 0 frontal, 0.5 strong turn)' }),
      maxPitch: z.number().min(0).default(0.35).meta({ description: 'refuse enrollment photos with the head tilted up or down more than this (pitch proxy)' }),
      minSharpness: z.number().min(0).default(150).meta({ description: 'refuse enrollment photos whose aligned face is blurrier than this (variance of the Laplacian)' }),
    })
    .prefault({})
    .meta({ description: 'the enrollment quality check (API and dashboard; `facegate enroll` has the same as options)' }),
  negativeMargin: similarity.default(0.05).meta({ description: "'not this person': a probe matches an identity only when its template score leads its score on the identity's negative anchors by this much" }),
});

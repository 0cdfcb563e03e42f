/**
 * gst-launch pipeline builder: camera config -> argv for `gst-launch-1.0 -q -e`. Pure.
 *
 * Shape: <source> ! <depay/parse> ! <decoder> ! videorate ! <convert/scale> ! RGB caps
 *        ! queue (leaky, 1 buffer) ! gdppay ! fdsink fd=1
 * With output.detectSize (a second, detector-sized copy on fd 3):
 *        <source> ! ... ! videorate ! queue (leaky, 1 buffer) ! tee name=facegate_split
 *          ! queue (1 buffer) ! <convert/scale> ! RGB caps ! gdppay ! fdsink fd=1
 *        facegate_split. ! queue (1 buffer) ! videoscale ! videoconvert ! RGB caps (long side <= size)
 *          ! gdppay ! fdsink fd=3
 * - videorate (drop-only, max-rate) runs before conversion so frames above the target fps cost
 *   no colour conversion; it also numbers buffers (offsets), which lets JS count the frames the
 *   leaky queue drops.
 * - the leaky one-buffer queue is the flow control: when JS reads slowly the pipe fills, fdsink
 *   blocks, and the queue throws away the older frame instead of growing.
 * - gdppay frames every buffer with its PTS and sends caps in-band.
 * - file sources on the cpu decoder play upright: `videoflip video-direction=auto` applies the
 *   file's rotation tag after videorate.
 */
import { redactText, redactUrl } from '../redact.ts';
import { decodesToSystemMemory, type CameraConfig, type Codec, type DecoderConfig, type OutputConfig, type SourceConfig } from './types.ts';

export interface PipelineDescription {
  /** Arguments after `gst-launch-1.0 -q -e`: one element, property or `!` per entry, no shell. */
  readonly argv: readonly string[];
  /** Human-readable pipeline, credentials redacted: safe for logs, events and errors. */
  readonly description: string;
  /** Element factories the pipeline needs (checked with gst-inspect before the first start). */
  readonly elements: readonly string[];
  /** Live sources: EOS means the camera went away (rebuild). Non-live: EOS is the end of a file. */
  readonly live: boolean;
  /**
   * True when some argv entry carries a credential (URL userinfo, a secret query parameter,
   * user-pw=...): such a pipeline must not go on a command line (/proc/<pid>/cmdline is world-readable).
   */
  readonly carriesSecrets: boolean;
  /**
   * Set when the pipeline also writes a detector copy (GDP on fd 3, `output.detectSize`): the
   * runner must give the child a 4th stdio pipe and pair the two streams.
   */
  readonly detectView: { readonly maxSide: number } | undefined;
  /**
   * Set for `idleDecode: keyframes`: the camera runs as a parse child and a decode child with
   * facegate between them (the argv above is then the one-child pipeline, for reference only).
   */
  readonly split: { readonly parse: PipelineDescription; readonly decode: PipelineDescription } | undefined;
}

/** fd the detector copy is written to (stdin, stdout, stderr, then this pipe). */
export const DETECT_VIEW_FD = 3;
const TEE_NAME = 'facegate_split';

export class PipelineConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineConfigError';
  }
}

/**
 * Split a gst-launch fragment into argv tokens like a shell would split words: whitespace
 * separates, "double" or 'single' quotes group, backslash escapes. gst-launch re-escapes each
 * argv entry, so `location="a b"` becomes the single token `location=a b`.
 */
export function tokenizeLaunch(fragment: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < fragment.length; i++) {
    const c = fragment[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < fragment.length) current += fragment[++i];
      else current += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inToken = true;
    } else if (c === '\\' && i + 1 < fragment.length) {
      current += fragment[++i];
      inToken = true;
    } else if (/\s/.test(c)) {
      if (inToken) tokens.push(current);
      current = '';
      inToken = false;
    } else {
      current += c;
      inToken = true;
    }
  }
  if (quote) throw new PipelineConfigError(`unbalanced ${quote} in pipeline fragment`);
  if (inToken) tokens.push(current);
  return tokens;
}

/** Element factory names in a token list: the first word of each `!`-separated section. */
export function elementsOf(tokens: readonly string[]): string[] {
  const out: string[] = [];
  let expectElement = true;
  for (const t of tokens) {
    if (t === '!') {
      expectElement = true;
      continue;
    }
    if (expectElement) {
      // Caps (`video/x-raw,...`), pad references (`t.`, `dec.src`) and bins are not factories.
      if (/^[a-z0-9][a-z0-9_-]*$/i.test(t)) out.push(t);
      expectElement = false;
    }
  }
  return [...new Set(out)];
}

type Section = readonly string[];

function join(sections: readonly Section[]): string[] {
  const argv: string[] = [];
  for (const s of sections) {
    if (s.length === 0) continue;
    if (argv.length) argv.push('!');
    argv.push(...s);
  }
  return argv;
}

function positiveInt(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v <= 0) throw new PipelineConfigError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function decoderSections(decoder: DecoderConfig, codec: Codec): Section[] {
  if (typeof decoder === 'object') {
    const tokens = tokenizeLaunch(decoder.custom);
    if (tokens.length === 0) throw new PipelineConfigError('custom decoder pipeline is empty');
    return [tokens];
  }
  const h265 = codec === 'h265';
  switch (decoder) {
    case 'cpu':
      return [[h265 ? 'avdec_h265' : 'avdec_h264']];
    case 'openh264':
      if (h265) throw new PipelineConfigError('the openh264 decoder decodes H.264 only; set decoder cpu for an H.265 camera');
      return [['openh264dec']];
    case 'jetson':
      return [['nvv4l2decoder']];
    case 'nvdec':
      return [[h265 ? 'nvh265dec' : 'nvh264dec']];
  }
}

/** Colour conversion (and scaling) to RGB at the requested size. */
function convertSections(decoder: DecoderConfig | undefined, out: OutputConfig): Section[] {
  const size = [
    ...(out.width !== undefined ? [`width=${out.width}`] : []),
    ...(out.height !== undefined ? [`height=${out.height}`] : []),
  ];
  const rgbCaps = ['video/x-raw,' + ['format=RGB', ...size].join(',')];
  if (decoder === 'jetson') {
    // nvvidconv converts and scales on the VIC out of NVMM memory, but cannot emit packed RGB;
    // BGRx in system memory, then a cheap videoconvert to RGB.
    return [['nvvidconv'], ['video/x-raw,' + ['format=BGRx', ...size].join(',')], ['videoconvert'], rgbCaps];
  }
  return [['videoconvert'], ['videoscale'], rgbCaps];
}

/**
 * The detector copy: scaled so neither side exceeds `maxSide`, aspect kept (pixel-aspect-ratio
 * 1/1 makes videoscale / nvvidconv change the size, not the PAR), never upscaled (the ranges
 * include the input size). Scaled before the RGB conversion on the CPU, so the colour conversion
 * runs on the small image; on jetson nvvidconv scales on the VIC out of NVMM memory.
 */
function detectViewSections(decoder: DecoderConfig | undefined, maxSide: number): Section[] {
  const range = `width=[1,${maxSide}],height=[1,${maxSide}],pixel-aspect-ratio=1/1`;
  if (decoder === 'jetson') return [['nvvidconv'], [`video/x-raw,format=BGRx,${range}`], ['videoconvert'], ['video/x-raw,format=RGB']];
  return [['videoscale'], ['videoconvert'], [`video/x-raw,format=RGB,${range}`]];
}

/** One userinfo part percent-encoded; escapes already in it are kept (decoded first). */
function encodeUserinfoPart(part: string): string {
  let decoded = part;
  try {
    decoded = decodeURIComponent(part);
  } catch {
    // a raw '%' that is not an escape ('50%off'): it is part of the password as written
  }
  return encodeURIComponent(decoded);
}

/**
 * The camera URL with its user and password percent-encoded, as rtspsrc needs them. Passwords
 * with `@`, `:`, `/`, `#` or `%` are common on cameras, and rtspsrc splits the userinfo at the
 * first `@` (a raw `P@ss` sends a 400 Bad Request, measured). The userinfo ends at the LAST `@`
 * (as in src/redact.ts, so what is hidden and what is sent agree); the user ends at the first `:`.
 * Already-encoded parts (`p%40ss`) stay as they are.
 */
export function encodeUserinfo(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!scheme) return url;
  const rest = url.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  if (at < 0) return url;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const encoded = colon < 0 ? encodeUserinfoPart(user) : `${encodeUserinfoPart(user)}:${encodeUserinfoPart(userinfo.slice(colon + 1))}`;
  return `${scheme[0]}${encoded}@${rest.slice(at + 1)}`;
}

function sourceSections(source: SourceConfig, decoder: DecoderConfig): { sections: Section[]; decodes: boolean } {
  switch (source.kind) {
    case 'rtsp': {
      if (!/^rtsps?:\/\//i.test(source.url)) throw new PipelineConfigError(`not an rtsp:// URL: ${redactUrl(source.url)}`);
      const latency = source.latencyMs ?? 0;
      if (!Number.isInteger(latency) || latency < 0) throw new PipelineConfigError(`latencyMs must be >= 0, got ${latency}`);
      const src = ['rtspsrc', `location=${encodeUserinfo(source.url)}`, `protocols=${source.transport ?? 'tcp'}`, `latency=${latency}`];
      // Only the video stream links; an audio track stays unlinked and rtspsrc ignores it.
      const video = ['application/x-rtp,media=video'];
      const codec = source.codec ?? 'h264';
      if (codec === 'auto') {
        if (decoder !== 'cpu') throw new PipelineConfigError('codec "auto" needs the cpu decoder preset; set codec h264 or h265');
        return { sections: [src, video, ['decodebin']], decodes: true };
      }
      const c = codec === 'h265' ? 'h265' : 'h264';
      return {
        sections: [src, [`${video[0]},encoding-name=${c.toUpperCase()}`], [`rtp${c}depay`], [`${c}parse`], ...decoderSections(decoder, c)],
        decodes: true,
      };
    }
    case 'file': {
      const src = ['filesrc', `location=${source.path}`];
      const codec = source.codec ?? 'auto';
      if (codec === 'auto') {
        if (decoder !== 'cpu') throw new PipelineConfigError('codec "auto" needs the cpu decoder preset; set codec h264 or h265');
        return { sections: [src, ['decodebin']], decodes: true };
      }
      return { sections: [src, ['parsebin'], [`${codec}parse`], ...decoderSections(decoder, codec)], decodes: true };
    }
    case 'test': {
      const w = positiveInt('test width', source.width) ?? 640;
      const h = positiveInt('test height', source.height) ?? 480;
      const fps = positiveInt('test fps', source.fps) ?? 15;
      const pattern = source.pattern ?? 'smpte';
      if (!/^[a-z0-9-]+$/i.test(pattern)) throw new PipelineConfigError(`bad videotestsrc pattern "${pattern}"`);
      return {
        sections: [['videotestsrc', 'is-live=true', `pattern=${pattern}`], [`video/x-raw,width=${w},height=${h},framerate=${fps}/1`]],
        decodes: false,
      };
    }
    case 'pipeline': {
      const tokens = tokenizeLaunch(source.pipeline);
      if (tokens.length === 0) throw new PipelineConfigError('pipeline override is empty');
      if (tokens.includes('fdsink') || tokens.includes('gdppay')) {
        throw new PipelineConfigError('pipeline override must end in raw video; facegate adds gdppay ! fdsink itself');
      }
      return { sections: [tokens], decodes: false };
    }
  }
}

/** videoflip's direction for a clockwise turn. */
const ROTATE_DIRECTION = { 90: '90r', 180: '180', 270: '90l' } as const;

function rotation(v: unknown): OutputConfig['rotate'] {
  if (v === undefined || v === 0) return undefined;
  if (v === 90 || v === 180 || v === 270) return v;
  throw new PipelineConfigError(`output rotate must be 0, 90, 180 or 270, got ${String(v)}`);
}

/** Build the pipeline for a camera. Throws PipelineConfigError for a config that cannot work. */
export function buildPipeline(cfg: Pick<CameraConfig, 'source' | 'decoder' | 'output' | 'idleDecode'>): PipelineDescription {
  const decoder: DecoderConfig = cfg.decoder ?? 'cpu';
  const output = outputOf(cfg.output);
  const { sections, decodes } = sourceSections(cfg.source, decoder);
  const argv = assemble([...sections], decodes ? decoder : undefined, cfg, output, paceOf(cfg.source));
  const whole = describe(argv, cfg.source, output);
  if ((cfg.idleDecode?.mode ?? 'all') === 'all') return whole;
  const split = buildSplit(cfg, decoder, output);
  return {
    ...whole,
    description: `${split.parse.description} | ${split.decode.description}`,
    elements: [...new Set([...split.parse.elements, ...split.decode.elements])],
    carriesSecrets: split.parse.carriesSecrets || split.decode.carriesSecrets,
    detectView: split.decode.detectView,
    split,
  };
}

function outputOf(o: OutputConfig | undefined): OutputConfig {
  const output: OutputConfig = {
    width: positiveInt('output width', o?.width),
    height: positiveInt('output height', o?.height),
    fps: positiveInt('output fps', o?.fps),
    detectSize: positiveInt('output detectSize', o?.detectSize),
    rotate: rotation(o?.rotate),
  };
  if (output.detectSize !== undefined && output.detectSize < 32) throw new PipelineConfigError(`output detectSize must be at least 32, got ${output.detectSize}`);
  return output;
}

/**
 * A file decodes faster than real time: pace it at its own timestamps *before* the leaky queue,
 * or the queue would throw most frames away.
 */
function paceOf(source: SourceConfig): Section[] {
  return source.kind === 'file' && (source.realtime ?? true) ? [['identity', 'sync=true']] : [];
}

/** Frames already scaled to the detector's size or below: the copy would be the frame itself. */
function detectSizeOf(output: OutputConfig): number | undefined {
  return output.detectSize !== undefined && output.width !== undefined && output.height !== undefined && Math.max(output.width, output.height) <= output.detectSize
    ? undefined
    : output.detectSize;
}

function describe(argv: string[], source: SourceConfig, output: OutputConfig): PipelineDescription {
  const detectSize = argv.includes(`fd=${DETECT_VIEW_FD}`) ? detectSizeOf(output) : undefined;
  return {
    argv,
    description: describeArgv(argv),
    elements: elementsOf(argv),
    live: source.kind === 'rtsp' || source.kind === 'test' || source.kind === 'pipeline',
    carriesSecrets: argv.some((a) => redactText(a) !== a),
    detectView: detectSize === undefined ? undefined : { maxSide: detectSize },
    split: undefined,
  };
}

/** Everything after the decoder: fps cap, rotation, conversion, the detector copy and the GDP pipes. */
function assemble(sections: Section[], converter: DecoderConfig | undefined, cfg: Pick<CameraConfig, 'source' | 'decoder'>, output: OutputConfig, pace: Section[], split = false): string[] {
  const decoder: DecoderConfig = cfg.decoder ?? 'cpu';
  const detectSize = detectSizeOf(output);
  const file = cfg.source.kind === 'file' ? cfg.source : undefined;
  const fileRate = file !== undefined && !split;
  // Files with a variable frame rate (phone clips: caps framerate 0/1) abort videorate in
  // drop-only mode (GStreamer 1.22: assertion GST_BUFFER_DURATION_IS_VALID in
  // gst_video_rate_push_buffer, "Bail out!" on stdout). Without drop-only, max-rate still caps a
  // constant-rate file and a variable-rate one passes with every frame; live sources keep drop-only.
  // A file with no fps cap gets no videorate at all: without drop-only it would duplicate frames
  // to fill timestamp gaps (a 5-frame clip played as 6).
  // A split decode child's input has gaps on purpose (an idle camera's key frames only): drop-only,
  // so videorate never fills them with copies of the last frame.
  const rate = fileRate ? (output.fps !== undefined ? ['videorate', `max-rate=${output.fps}`] : undefined) : ['videorate', 'drop-only=true', ...(output.fps !== undefined ? [`max-rate=${output.fps}`] : [])];
  // Phone clips carry a rotation tag (image-orientation=rotate-90/270) that decoders do not apply:
  // played as stored the faces are sideways and the detector finds none. videoflip's automatic
  // direction reads the tag (a passthrough for upright files). File sources decoded on the CPU
  // (cpu, openh264) only: hardware decoders hand over device memory, which videoflip cannot take. After videorate,
  // so frames over the fps cap are never rotated.
  // A camera's own `rotate` (a sideways-mounted sensor) replaces the automatic direction.
  const upright: Section[] = !decodesToSystemMemory(decoder) ? [] : output.rotate ? [['videoflip', `video-direction=${ROTATE_DIRECTION[output.rotate]}`]] : file ? [['videoflip', 'video-direction=auto']] : [];
  const queue = file?.lossless
    ? ['queue', 'max-size-buffers=1', 'max-size-bytes=0', 'max-size-time=0']
    : ['queue', 'leaky=downstream', 'max-size-buffers=1', 'max-size-bytes=0', 'max-size-time=0'];
  if (detectSize === undefined) {
    return join([...sections, ...(rate ? [rate] : []), ...pace, ...upright, ...convertSections(converter, output), queue, ['gdppay'], ['fdsink', 'fd=1', 'sync=false']]);
  }
  // Split after videorate (the fps cap applies to both, and both copies carry the same buffer
  // offset and PTS, which is how JS pairs them). One drop point before the split: when either
  // pipe backs up, its branch queue fills, the tee waits, and the leaky queue drops the frame for
  // both branches at once, so the two streams lose the same frames and stay paired (per-branch
  // leaky queues drop independently, and far fewer frames find their partner). Dropped before any colour work; each branch queue is its own thread,
  // so the two conversions run in parallel.
  const branchQueue = ['queue', 'max-size-buffers=1', 'max-size-bytes=0', 'max-size-time=0'];
  return [
    ...join([...sections, ...(rate ? [rate] : []), ...pace, ...upright, queue, ['tee', `name=${TEE_NAME}`], branchQueue, ...convertSections(converter, output), ['gdppay'], ['fdsink', 'fd=1', 'sync=false']]),
    `${TEE_NAME}.`,
    '!',
    ...join([branchQueue, ...detectViewSections(converter, detectSize), ['gdppay'], ['fdsink', `fd=${DETECT_VIEW_FD}`, 'sync=false']]),
  ];
}

/**
 * `idleDecode: keyframes`: two children instead of one. The parse child receives and parses the
 * stream and writes each access unit (a whole compressed frame, key frames flagged) as GDP on
 * fd 1; the decode child reads what facegate forwards on its stdin (decode-feed.ts decides what)
 * and is today's pipeline from the decoder on. Node sits between them, so an idle camera costs a
 * parse, not a decode.
 */
function buildSplit(cfg: Pick<CameraConfig, 'source' | 'decoder' | 'output'>, decoder: DecoderConfig, output: OutputConfig): NonNullable<PipelineDescription['split']> {
  const src = cfg.source;
  if (src.kind !== 'rtsp' && src.kind !== 'file') throw new PipelineConfigError(`idleDecode "keyframes" needs an rtsp or file source (a compressed stream), not "${src.kind}"`);
  const codec = src.codec ?? (src.kind === 'rtsp' ? 'h264' : 'auto');
  if (codec === 'auto') throw new PipelineConfigError('idleDecode "keyframes" needs the codec named (h264 or h265), not "auto"');
  const { sections } = sourceSections({ ...src, codec }, decoder);
  // The source's own sections end with the decoder: the parse child stops at the parser.
  const parsed = sections.slice(0, sections.length - decoderSections(decoder, codec).length);
  const au = [`video/x-${codec},stream-format=byte-stream,alignment=au`];
  const parseArgv = join([...parsed, au, ...paceOf(src), ['gdppay'], ['fdsink', 'fd=1', 'sync=false']]);
  // One decoder thread: libav's frame threading delays each frame's output by one frame per extra
  // thread, and an idle camera's decoder gets one key frame per idleKeyframeMs, so a key frame
  // would only come out with the next one. The decode cost per frame measured the same with one
  // thread (docs/benchmarks.md).
  const decode: Section[] = decoder === 'cpu' ? [[`avdec_${codec}`, 'max-threads=1']] : decoderSections(decoder, codec);
  const decodeArgv = assemble([['fdsrc', 'fd=0'], ['gdpdepay'], ...decode], decoder, cfg, output, [], true);
  return { parse: describe(parseArgv, src, output), decode: describe(decodeArgv, src, output) };
}

/** gst-launch syntax for people: quotes what needs quoting, redacts credentials. */
export function describeArgv(argv: readonly string[]): string {
  return argv
    .map((a) => redactText(a))
    .map((a) => (/[\s"']/.test(a) ? a.replace(/^([^=]*=)?(.*)$/, (_m, k: string | undefined, v: string) => `${k ?? ''}"${v.replace(/"/g, '\\"')}"`) : a))
    .join(' ');
}

/** Configuration, health and error types of the ingest stage. */
import type { BackoffOptions } from '../lib/backoff.ts';

export type Transport = 'tcp' | 'udp';
/** `auto` lets GStreamer pick the depayloader/parser/decoder (decodebin); cpu preset only. */
export type Codec = 'auto' | 'h264' | 'h265';
/**
 * `cpu`: libav (avdec_h264 / avdec_h265). `openh264`: Cisco's OpenH264 (H.264 only, 4:2:0), also on
 * the CPU: a decoder child without libav's library tree (~30-40 MB less resident memory per camera),
 * at about twice libav's decode time (docs/benchmarks.md). `jetson` / `nvdec`: NVIDIA hardware.
 */
export type DecoderPreset = 'cpu' | 'openh264' | 'jetson' | 'nvdec';

/** Presets whose frames come out in system memory, where videoflip can turn them. */
export function decodesToSystemMemory(decoder: DecoderConfig): boolean {
  return decoder === 'cpu' || decoder === 'openh264';
}
/**
 * Which elements decode the compressed stream. A preset, or `{ custom }`: a gst-launch fragment
 * that takes the parsed elementary stream and outputs raw video (`vaapih264dec ! vaapipostproc`).
 */
export type DecoderConfig = DecoderPreset | { readonly custom: string };

export interface RtspSourceConfig {
  readonly kind: 'rtsp';
  /** rtsp:// or rtsps:// URL; may carry credentials (`user:pass@`), which are never logged. */
  readonly url: string;
  /** Default tcp: works through NAT and loses no packets; udp for cameras that only do UDP. */
  readonly transport?: Transport;
  /** rtspsrc jitterbuffer latency in ms. Default 0: access control wants the newest frame, not smoothness. */
  readonly latencyMs?: number;
  readonly codec?: Codec;
}

export interface FileSourceConfig {
  readonly kind: 'file';
  /** Any container/codec GStreamer can demux and decode. */
  readonly path: string;
  /** Start again at the end (the pipeline is rebuilt; seq/pts restart). Default false. */
  readonly loop?: boolean;
  /** Play at the clip's own speed like a camera would. Default true; false decodes as fast as possible. */
  readonly realtime?: boolean;
  /** Never drop a frame: the pipe blocks the decoder instead (offline processing). Default false. */
  readonly lossless?: boolean;
  readonly codec?: Codec;
}

export interface TestSourceConfig {
  readonly kind: 'test';
  /** videotestsrc pattern name (smpte, ball, ...). Default smpte. */
  readonly pattern?: string;
  readonly width?: number;
  readonly height?: number;
  readonly fps?: number;
}

/** Free-form override: a gst-launch fragment that outputs raw video (`v4l2src device=/dev/video0`). */
export interface PipelineSourceConfig {
  readonly kind: 'pipeline';
  readonly pipeline: string;
}

export type SourceConfig = RtspSourceConfig | FileSourceConfig | TestSourceConfig | PipelineSourceConfig;

export interface OutputConfig {
  /** Scale to this size inside GStreamer; default: the stream's own size. */
  readonly width?: number;
  readonly height?: number;
  /** Upper bound on delivered fps (videorate drop-only, in the pipeline, before conversion). */
  readonly fps?: number;
  /**
   * Also deliver a copy scaled in GStreamer for the detector (`Frame.detectView`): long side at
   * most this many pixels, aspect ratio kept, never upscaled (1280x720 -> 640x360 for 640). The
   * frame itself stays at full resolution (recognition, snapshots, live view). The copy comes
   * through a second pipe (fd 3) from a `tee` after videorate; on the jetson preset nvvidconv
   * scales it on the VIC. Undefined: no copy, the detector resizes the full frame in JS.
   */
  readonly detectSize?: number;
  /**
   * Turn every frame clockwise by this many degrees in GStreamer (a sideways-mounted sensor), CPU
   * decoder only. Default: none (a file's own rotation tag is still applied).
   */
  readonly rotate?: 0 | 90 | 180 | 270;
}

export interface WatchdogConfig {
  /** A running camera with no frame for this long is stalled and rebuilt. Default 5000. */
  readonly stallMs?: number;
  /** A (re)starting pipeline must deliver its first frame within this. Default 15000. */
  readonly startMs?: number;
}

/**
 * What the decoder gets while the camera is idle. `all`: every frame (one child). `keyframes`: the
 * stream is parsed in one child and facegate forwards to a decoding child every frame while
 * something happens, but only key frames while nothing does (decode-feed.ts); it wakes on a frame
 * much larger than the idle ones of its kind or on motion the chain sees in a decoded key frame.
 */
export interface IdleDecodeConfig {
  readonly mode: 'all' | 'keyframes';
  /** Idle this long (no motion, no tracks) before the decoder gets key frames only. Default 2000. */
  readonly sleepAfterMs?: number;
  /** While idle, decode one key frame per this many ms. Default 2000 (the keep-alive detection's period). */
  readonly keyframeEveryMs?: number;
}

/** What the chain tells ingest: whether it has something to do (motion, tracks) right now. */
export interface DecodeDemand {
  busy(): boolean;
}

export interface CameraConfig {
  readonly id: string;
  readonly source: SourceConfig;
  readonly decoder?: DecoderConfig;
  readonly output?: OutputConfig;
  readonly watchdog?: WatchdogConfig;
  readonly backoff?: Partial<BackoffOptions>;
  /**
   * Kept for config compatibility: the backoff now resets as soon as a run delivers frames again
   * (camera.up), so a camera that flapped is not kept blind by a long delay after a short outage.
   */
  readonly stableMs?: number;
  /**
   * Retry interval when GStreamer itself cannot be run (binary missing or not executable).
   * Default 30000: slow, but a camera is never given up; installing GStreamer brings it back.
   */
  readonly missingRetryMs?: number;
  /** Default `{ mode: 'all' }`. */
  readonly idleDecode?: IdleDecodeConfig;
}

/** Caps negotiated at the end of the pipeline (what reaches JS). */
export interface VideoCaps {
  readonly format: 'RGB';
  readonly width: number;
  readonly height: number;
  /** Frames per second from the caps; undefined when variable/unknown (0/1). */
  readonly fps: number | undefined;
  /** Bytes per row in GStreamer's buffer: width*3 rounded up to a multiple of 4. */
  readonly stride: number;
}

/** Why a camera is down. `kind` is stable (switch on it); message and hint are for people. */
export type DownReasonKind =
  | 'refused'
  | 'unresolvable'
  | 'unreachable'
  | 'connect-failed'
  | 'unauthorized'
  | 'not-found'
  | 'no-video'
  | 'not-negotiated'
  | 'missing-element'
  | 'bad-pipeline'
  | 'gstreamer-missing'
  /** EMFILE/ENFILE/EAGAIN/ENOMEM when starting GStreamer: transient, retried with backoff. */
  | 'out-of-resources'
  /** Starting the pipeline process failed for another reason (E2BIG: pipeline too long). */
  | 'spawn-failed'
  /** The TCP connection to the camera broke (server killed, reset), as opposed to a clean EOS. */
  | 'connection-lost'
  | 'eos'
  | 'stalled'
  | 'start-timeout'
  | 'protocol-error'
  | 'crashed'
  | 'error';

export interface DownReason {
  readonly kind: DownReasonKind;
  /** One line, credentials redacted. */
  readonly message: string;
  readonly hint: string | undefined;
}

export interface CameraStarting {
  readonly type: 'camera.starting';
  readonly cameraId: string;
  readonly at: number;
  /** 0 for the first try, n for the n-th retry since the camera was last stable. */
  readonly attempt: number;
  /** The pipeline, credentials redacted. */
  readonly pipeline: string;
}
export interface CameraUp {
  readonly type: 'camera.up';
  readonly cameraId: string;
  readonly at: number;
  readonly caps: VideoCaps;
  readonly pid: number | undefined;
  /** ms from spawning the pipeline to its first frame in JS. */
  readonly firstFrameMs: number;
  readonly attempt: number;
}
export interface CameraStalled {
  readonly type: 'camera.stalled';
  readonly cameraId: string;
  readonly at: number;
  /** ms since the last frame. */
  readonly silentMs: number;
}
export interface CameraDown {
  readonly type: 'camera.down';
  readonly cameraId: string;
  readonly at: number;
  readonly reason: DownReason;
  /** ms until the next try; undefined when it will not retry (fatal). */
  readonly retryInMs: number | undefined;
  readonly fatal: boolean;
}
/** A `file` source played once reached its end. */
export interface CameraEnded {
  readonly type: 'camera.ended';
  readonly cameraId: string;
  readonly at: number;
}
export type CameraHealth = CameraStarting | CameraUp | CameraStalled | CameraDown | CameraEnded;

export type CameraStatus = 'idle' | 'starting' | 'up' | 'stalled' | 'down' | 'ended' | 'closed';

/** Latest known state of a camera (`Camera.state.value`). */
export interface CameraState {
  readonly cameraId: string;
  readonly status: CameraStatus;
  readonly since: number;
  readonly caps: VideoCaps | undefined;
  readonly reason: DownReason | undefined;
  readonly last: CameraHealth | undefined;
}

export interface CameraStats {
  /** Frames handed to subscribers. */
  readonly delivered: number;
  /** Frames GStreamer decoded but dropped before the pipe (leaky queue), from buffer-offset gaps. */
  readonly droppedInPipeline: number;
  /**
   * Frames missing by timestamp: PTS gaps between delivered frames longer than 1.5 expected frame
   * intervals, counted as (gap / interval - 1) frames. Catches every loss before JS (network,
   * decoder falling behind, leaky queue), including what offsets cannot see. Expected interval:
   * 1 / min(caps fps, output.fps); 0 while the fps is unknown.
   */
  readonly missedByPts: number;
  /** Pipelines started (first start included). */
  readonly starts: number;
  readonly bytesRead: number;
  /**
   * With `output.detectSize`: full-resolution frames or detector copies that found no partner
   * (each branch has its own leaky queue, so one may drop a frame the other kept); never delivered.
   */
  readonly unpaired: number;
  /** `idleDecode: keyframes`: compressed frames parsed, and those the decoder never got (idle). */
  readonly parsed: number;
  readonly notDecoded: number;
  /** Times the decoder was woken: by a frame's size, or by the chain (motion in a key frame, tracks). */
  readonly wokenBySize: number;
  readonly wokenByDemand: number;
  /** Decoded frames older than a wake (the catch-up from the key frame), not delivered. */
  readonly catchUp: number;
  /** Delivered frames whose pixels went into the memory of an earlier frame the chain had finished with (no allocation). */
  readonly reusedFrames: number;
  /** A frame's hold released more often than it was taken (a consumer's bug, logged; memory was not handed out twice). Should stay 0. */
  readonly overReleased: number;
}

/** A typed, person-readable ingest error (probe, CLI). Never carries credentials. */
export class CameraError extends Error {
  readonly code: DownReasonKind;
  readonly hint: string | undefined;
  readonly context: Readonly<Record<string, string | number | undefined>>;

  constructor(reason: DownReason, context: Readonly<Record<string, string | number | undefined>> = {}) {
    super(reason.message);
    this.name = 'CameraError';
    this.code = reason.kind;
    this.hint = reason.hint;
    this.context = context;
  }

  describe(): string {
    return this.hint ? `${this.message}\n  fix: ${this.hint}` : this.message;
  }
}

export function isCameraError(e: unknown): e is CameraError {
  return e instanceof CameraError;
}

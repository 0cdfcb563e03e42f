/**
 * A camera: runs its pipeline while someone subscribes to its frames, watches it, and rebuilds it
 * with backoff when it fails. Failures are health values (camera.down ...), never exceptions.
 */
import { performance } from 'node:perf_hooks';
import { BehaviorSubject, Observable, Subject, share, type Subscriber, type Subscription } from 'rxjs';
import { createLogger, type Logger } from '../log.ts';
import type { Frame } from '../types.ts';
import { backoffDelay, resolveBackoff, type BackoffOptions } from '../lib/backoff.ts';
import { diagnoseDown } from './diagnose.ts';
import { secretStringsOf } from '../redact.ts';
import { droppedBetween, expectedIntervalNs, missedBetween } from './frame.ts';
import { buildPipeline, PipelineConfigError, type PipelineDescription } from './pipeline.ts';
import { GstLaunchSource, type Source, type SourceEvent } from './source.ts';
import { DEFAULT_DECODE_FEED, type DecodeFeedSettings } from './decode-feed.ts';
import { runSplit } from './split-run.ts';
import { forwardedTo, NOTHING_OWED, watchdogVerdict, type DecoderOwed } from './watchdog.ts';
import type {
  CameraConfig,
  CameraHealth,
  CameraState,
  CameraStats,
  DecodeDemand,
  DownReason,
  VideoCaps,
} from './types.ts';

export interface CameraOptions {
  readonly logger?: Logger;
  /** Pipeline runner; default: a gst-launch-1.0 child process per run. */
  readonly source?: Source;
  /** Random numbers for backoff jitter (tests pass a fixed sequence). */
  readonly random?: () => number;
  /**
   * `idleDecode: keyframes`: whether the chain has something to do (its detection gate). Without
   * it the decoder gets every frame.
   */
  readonly demand?: DecodeDemand;
}

export interface Camera {
  readonly id: string;
  /**
   * Frames as they reach JS. Shared: the pipeline runs while at least one subscriber is attached
   * and stops when the last leaves. Completes only when the camera cannot go on (fatal config
   * error) or a file played once reached its end; every failure is reported on `health`.
   */
  readonly frames: Observable<Frame>;
  /** Health events as they happen (hot). */
  readonly health: Observable<CameraHealth>;
  /** The latest state; subscribe for changes, `.value` to read it now. */
  readonly state: BehaviorSubject<CameraState>;
  /** The pipeline, credentials redacted (undefined when the config cannot build one). */
  readonly pipeline: string | undefined;
  stats(): CameraStats;
  /** Stop the pipeline and complete every stream of this camera. */
  close(): void;
}

/**
 * Config problems GStreamer itself reports: retrying the same pipeline cannot help (a config
 * reload or a restart after installing the plugin does). Everything else is retried, a missing
 * GStreamer slowly (missingRetryMs), so no single error stops a camera forever.
 */
const FATAL: ReadonlySet<DownReason['kind']> = new Set(['missing-element', 'bad-pipeline']);
const SLOW_RETRY: ReadonlySet<DownReason['kind']> = new Set(['gstreamer-missing']);
/** Reasons that say this machine cannot run the pipeline, whatever the camera does. */
const BROKEN_INSTALL: ReadonlySet<DownReason['kind']> = new Set(['gstreamer-missing', 'missing-element', 'bad-pipeline', 'spawn-failed', 'crashed']);

let defaultLogger: Logger | undefined;
function ingestLogger(): Logger {
  defaultLogger ??= createLogger({ name: 'ingest' });
  return defaultLogger;
}

interface MutableStats {
  delivered: number;
  droppedInPipeline: number;
  missedByPts: number;
  starts: number;
  bytesRead: number;
  unpaired: number;
  parsed: number;
  notDecoded: number;
  wokenBySize: number;
  wokenByDemand: number;
  catchUp: number;
  reusedFrames: number;
  overReleased: number;
}

/** Everything that lives for one active subscription of `frames`: the run/retry/watchdog loop. */
class CameraLoop {
  private attempt = 0;
  private stopped = false;
  private run: Subscription | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private runStartedAt = 0;
  private upAt: number | undefined;
  /** The last sign of life (watchdog.ts): a frame, or an access unit parsed while none was forwarded. */
  private lastLifeAt = 0;
  private lastFrameAt = 0;
  /** Split runs: what the decoder was given since its last frame. */
  private owed: DecoderOwed = NOTHING_OWED;
  private seq = 0;
  private lastOffset: number | undefined;
  private lastPts: number | undefined;
  private pid: number | undefined;
  private caps: VideoCaps | undefined;
  private elementsChecked = false;

  constructor(
    private readonly cam: CameraImpl,
    private readonly out: Subscriber<Frame>,
  ) {}

  start(): void {
    void this.startRun();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.endRun();
  }

  private async startRun(): Promise<void> {
    this.retryTimer = undefined;
    if (this.stopped) return;
    const { pipelineDescription: pipeline, source } = this.cam;
    if (!pipeline) return; // config errors are reported by the camera before any loop starts
    if (!this.elementsChecked) {
      const missing = await source.missingElements(pipeline.elements);
      if (this.stopped) return;
      if (missing.length) {
        this.finishFatal({
          kind: 'missing-element',
          message: `no element "${missing[0]}"${missing.length > 1 ? ` (also missing: ${missing.slice(1).join(', ')})` : ''}`,
          hint: `install the GStreamer plugin that provides ${missing[0]} (gst-inspect-1.0 ${missing[0]}), or use decoder preset "cpu"`,
        });
        return;
      }
      this.elementsChecked = true;
    }
    this.cam.emit({ type: 'camera.starting', cameraId: this.cam.id, at: Date.now(), attempt: this.attempt, pipeline: pipeline.description });
    this.cam.counters.starts++;
    this.runStartedAt = performance.now();
    this.upAt = undefined;
    this.owed = NOTHING_OWED;
    this.seq = 0;
    this.lastOffset = undefined;
    this.lastPts = undefined;
    this.pid = undefined;
    this.caps = undefined;
    const runOpts = { secrets: this.cam.secrets, source: this.cam.config.source, onLeaseMisuse: this.cam.onLeaseMisuse };
    const run$ = pipeline.split ? runSplit(source, pipeline.split, { ...runOpts, demand: this.cam.demand, feed: this.cam.feed }) : source.run(pipeline, runOpts);
    this.run = run$.subscribe((ev) => this.onSourceEvent(ev));
    const tick = Math.max(20, Math.min(250, this.cam.stallMs / 4));
    if (!this.stopped && this.run && !this.run.closed) this.watchdog = setInterval(() => this.checkWatchdog(), tick);
  }

  private onSourceEvent(ev: SourceEvent): void {
    switch (ev.type) {
      case 'started':
        this.pid = ev.pid;
        return;
      case 'caps':
        this.caps = ev.caps;
        return;
      case 'detect-caps':
        this.cam.log.debug({ camera: this.cam.id, caps: ev.caps }, 'detector copy caps');
        return;
      case 'stderr':
        this.cam.log.debug({ camera: this.cam.id, pid: this.pid }, ev.line);
        return;
      case 'parsed': {
        // Split runs: while the decoder sleeps, the stream is alive as long as access units
        // arrive (an idle camera decodes a key frame per 2 s: that alone is no stall). What the
        // decoder is given is owed back as frames: a decoder that hangs stalls the camera, awake
        // or asleep (watchdog.ts).
        const now = performance.now();
        if (this.upAt !== undefined && ev.forwarded === 0) this.lastLifeAt = now;
        this.owed = forwardedTo(this.owed, ev.forwarded, now);
        const c = this.cam.counters;
        c.parsed++;
        if (ev.forwarded === 0) c.notDecoded++;
        if (ev.woke === 'size') c.wokenBySize++;
        if (ev.woke === 'demand') c.wokenByDemand++;
        return;
      }
      case 'au':
      case 'au-meta':
        return;
      case 'frame': {
        const now = performance.now();
        this.cam.counters.bytesRead += ev.bytes;
        this.cam.counters.unpaired += ev.unpaired;
        this.cam.counters.catchUp += ev.catchUp ?? 0;
        // Frames skipped on purpose (an idle camera's decoder got key frames only) are no loss.
        if (ev.resumed) {
          this.lastOffset = undefined;
          this.lastPts = undefined;
        }
        if (this.upAt === undefined && this.caps) {
          this.upAt = now;
          this.attemptUp();
        }
        this.lastLifeAt = now;
        this.lastFrameAt = now;
        this.owed = NOTHING_OWED;
        this.cam.counters.droppedInPipeline += droppedBetween(this.lastOffset, ev.offset);
        this.lastOffset = ev.offset;
        this.cam.counters.missedByPts += missedBetween(this.lastPts, ev.pts, expectedIntervalNs(this.caps?.fps, this.cam.config.output?.fps), ev.sourceIntervalNs);
        if (ev.pts !== undefined) this.lastPts = ev.pts;
        const frame: Frame = {
          data: ev.image.data,
          width: ev.image.width,
          height: ev.image.height,
          cameraId: this.cam.id,
          seq: this.seq++,
          pts: ev.pts,
          capturedAt: Date.now(),
          format: 'RGB',
          ...(ev.detectView ? { detectView: ev.detectView } : {}),
          lease: ev.lease,
        };
        this.cam.counters.delivered++;
        if (ev.reused) this.cam.counters.reusedFrames++;
        this.out.next(frame);
        return;
      }
      case 'ended':
        this.clearRun();
        void this.onEnded(ev.reason);
        return;
    }
  }

  private attemptUp(): void {
    const caps = this.caps;
    if (!caps || this.upAt === undefined) return;
    // Frames flow again: the next loss starts the backoff from its first (sub-second) step, so
    // after a few flaps a short outage does not keep the camera blind for the capped delay.
    const attempt = this.attempt;
    this.attempt = 0;
    this.cam.emit({
      type: 'camera.up',
      cameraId: this.cam.id,
      at: Date.now(),
      caps,
      pid: this.pid,
      firstFrameMs: Math.round(this.upAt - this.runStartedAt),
      attempt,
    });
  }

  private checkWatchdog(): void {
    if (this.stopped || !this.run) return;
    const v = watchdogVerdict(
      { runStartedAt: this.runStartedAt, upAt: this.upAt, lastLifeAt: this.lastLifeAt, lastFrameAt: this.lastFrameAt, owed: this.owed.owed, owedSince: this.owed.owedSince },
      performance.now(),
      { stallMs: this.cam.stallMs, startMs: this.cam.startMs },
    );
    if (v.kind === 'ok') return;
    if (v.kind === 'start-timeout') {
      this.endRun();
      this.scheduleRetry(
        { kind: 'start-timeout', message: `no frame within ${this.cam.startMs} ms of starting`, hint: 'the camera accepts connections but sends no video: check it is not frozen or overloaded' },
        0,
      );
      return;
    }
    const silent = Math.round(v.silentMs);
    this.cam.emit({ type: 'camera.stalled', cameraId: this.cam.id, at: Date.now(), silentMs: silent });
    // A hung decoder's run was good until its last frame, however long the stream went on after it.
    const upFor = (v.cause === 'decoder' ? this.lastFrameAt : this.lastLifeAt) - (this.upAt ?? 0);
    this.endRun();
    this.scheduleRetry(
      {
        kind: 'stalled',
        message: v.cause === 'decoder' ? `no frame for ${silent} ms (the decoder got ${v.owed} compressed frames since its last frame and returned none)` : `no frame for ${silent} ms`,
        hint: v.cause === 'decoder' ? 'the decoder process stopped returning frames; facegate rebuilds the stream' : 'the camera or network froze; facegate rebuilds the stream',
      },
      upFor,
    );
  }

  private clearRun(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.run = undefined;
  }

  /** Kill the running pipeline (if any) by dropping its subscription. */
  private endRun(): void {
    const run = this.run;
    this.clearRun();
    run?.unsubscribe();
  }

  private async onEnded(raw: DownReason): Promise<void> {
    if (this.stopped) return;
    const upFor = this.upAt === undefined ? 0 : this.lastLifeAt - this.upAt;
    const { config, pipelineDescription: pipeline } = this.cam;
    if (raw.kind === 'eos' && !pipeline?.live && config.source.kind === 'file') {
      if (config.source.loop) {
        this.attempt = 0;
        void this.startRun();
      } else {
        this.cam.emit({ type: 'camera.ended', cameraId: this.cam.id, at: Date.now() });
        this.out.complete();
      }
      return;
    }
    if (FATAL.has(raw.kind)) {
      this.finishFatal(raw);
      return;
    }
    const reason = await diagnoseDown(raw, config.source);
    if (this.stopped) return;
    this.scheduleRetry(reason, upFor);
  }

  private scheduleRetry(reason: DownReason, upForMs: number): void {
    if (this.stopped) return;
    if (upForMs >= this.cam.stableMs) this.attempt = 0;
    const delay = SLOW_RETRY.has(reason.kind)
      ? Math.round(this.cam.missingRetryMs * (0.75 + 0.25 * this.cam.random()))
      : backoffDelay(this.attempt, this.cam.backoff, this.cam.random());
    this.attempt++;
    this.cam.emit({ type: 'camera.down', cameraId: this.cam.id, at: Date.now(), reason, retryInMs: delay, fatal: false });
    this.retryTimer = setTimeout(() => void this.startRun(), delay);
  }

  private finishFatal(reason: DownReason): void {
    this.cam.emit({ type: 'camera.down', cameraId: this.cam.id, at: Date.now(), reason, retryInMs: undefined, fatal: true });
    this.stopped = true;
    this.out.complete();
  }
}

class CameraImpl implements Camera {
  readonly id: string;
  readonly frames: Observable<Frame>;
  readonly health: Observable<CameraHealth>;
  readonly state: BehaviorSubject<CameraState>;
  readonly pipeline: string | undefined;

  readonly pipelineDescription: PipelineDescription | undefined;
  readonly configError: DownReason | undefined;
  readonly source: Source;
  readonly log: Logger;
  readonly secrets: readonly string[];
  readonly backoff: BackoffOptions;
  readonly random: () => number;
  readonly stallMs: number;
  readonly startMs: number;
  readonly stableMs: number;
  readonly missingRetryMs: number;
  readonly counters: MutableStats = { delivered: 0, droppedInPipeline: 0, missedByPts: 0, starts: 0, bytesRead: 0, unpaired: 0, parsed: 0, notDecoded: 0, wokenBySize: 0, wokenByDemand: 0, catchUp: 0, reusedFrames: 0, overReleased: 0 };
  readonly demand: DecodeDemand | undefined;
  readonly feed: DecodeFeedSettings;
  /** A consumer released a frame's hold once too often: counted, and logged the first time (a bug to fix, harmless to memory). */
  readonly onLeaseMisuse = (): void => {
    if (this.counters.overReleased++ === 0) this.log.error('a frame was released more often than it was held (a consumer released a hold it did not own); its memory was not reused twice');
  };
  private readonly healthSubject = new Subject<CameraHealth>();
  private readonly loops = new Set<CameraLoop>();
  private closed = false;

  constructor(
    readonly config: CameraConfig,
    opts: CameraOptions,
  ) {
    this.id = config.id;
    this.source = opts.source ?? new GstLaunchSource();
    this.log = (opts.logger ?? ingestLogger()).child({ camera: config.id });
    this.secrets = config.source.kind === 'rtsp' ? secretStringsOf(config.source.url) : [];
    this.backoff = resolveBackoff(config.backoff);
    this.random = opts.random ?? Math.random;
    this.stallMs = config.watchdog?.stallMs ?? 5000;
    this.startMs = config.watchdog?.startMs ?? 15_000;
    this.stableMs = config.stableMs ?? 10_000;
    this.missingRetryMs = config.missingRetryMs ?? 30_000;
    this.demand = opts.demand;
    this.feed = {
      ...DEFAULT_DECODE_FEED,
      ...(config.idleDecode?.sleepAfterMs !== undefined ? { sleepAfterMs: config.idleDecode.sleepAfterMs } : {}),
      ...(config.idleDecode?.keyframeEveryMs !== undefined ? { keyframeEveryMs: config.idleDecode.keyframeEveryMs } : {}),
    };
    try {
      this.pipelineDescription = buildPipeline(config);
    } catch (e) {
      if (!(e instanceof PipelineConfigError)) throw e;
      this.configError = { kind: 'bad-pipeline', message: e.message, hint: 'fix the camera configuration' };
    }
    this.pipeline = this.pipelineDescription?.description;
    this.health = this.healthSubject.asObservable();
    this.state = new BehaviorSubject<CameraState>({
      cameraId: this.id,
      status: 'idle',
      since: Date.now(),
      caps: undefined,
      reason: undefined,
      last: undefined,
    });
    this.frames = new Observable<Frame>((subscriber) => {
      if (this.closed) {
        subscriber.complete();
        return;
      }
      if (this.configError) {
        this.emit({ type: 'camera.down', cameraId: this.id, at: Date.now(), reason: this.configError, retryInMs: undefined, fatal: true });
        subscriber.complete();
        return;
      }
      const loop = new CameraLoop(this, subscriber);
      this.loops.add(loop);
      loop.start();
      return () => {
        loop.stop();
        this.loops.delete(loop);
        if (!this.closed && this.state.value.status !== 'down' && this.state.value.status !== 'ended') this.setIdle();
      };
    }).pipe(share());
  }

  emit(h: CameraHealth): void {
    if (this.closed) return;
    const prev = this.state.value;
    const next: CameraState = {
      cameraId: this.id,
      status:
        h.type === 'camera.starting' ? 'starting' : h.type === 'camera.up' ? 'up' : h.type === 'camera.stalled' ? 'stalled' : h.type === 'camera.down' ? 'down' : 'ended',
      since: h.at,
      caps: h.type === 'camera.up' ? h.caps : prev.caps,
      reason: h.type === 'camera.down' ? h.reason : h.type === 'camera.up' ? undefined : prev.reason,
      last: h,
    };
    switch (h.type) {
      case 'camera.up':
        this.log.info({ event: h.type, caps: h.caps, pid: h.pid, firstFrameMs: h.firstFrameMs, attempt: h.attempt }, 'camera up');
        break;
      case 'camera.down':
        // A box that cannot run its pipelines at all (missing GStreamer, launcher or element, a
        // crash) is an error for the operator; a camera that went away is a warning.
        this.log[BROKEN_INSTALL.has(h.reason.kind) || h.fatal ? 'error' : 'warn'](
          { event: h.type, reason: h.reason.kind, retryInMs: h.retryInMs, fatal: h.fatal, hint: h.reason.hint },
          `camera down: ${h.reason.message}`,
        );
        break;
      case 'camera.stalled':
        this.log.warn({ event: h.type, silentMs: h.silentMs }, 'camera stalled');
        break;
      default:
        this.log.debug({ event: h.type }, h.type);
    }
    this.state.next(next);
    this.healthSubject.next(h);
  }

  private setIdle(): void {
    this.state.next({ ...this.state.value, status: 'idle', since: Date.now() });
  }

  stats(): CameraStats {
    return { ...this.counters };
  }

  close(): void {
    if (this.closed) return;
    for (const loop of this.loops) loop.stop();
    this.loops.clear();
    this.state.next({ ...this.state.value, status: 'closed', since: Date.now() });
    this.closed = true;
    this.healthSubject.complete();
    this.state.complete();
  }
}

/** Open a camera. Nothing runs until `frames` is subscribed. */
export function openCamera(config: CameraConfig, opts: CameraOptions = {}): Camera {
  return new CameraImpl(config, opts);
}

/** What one camera emits: its frames and its health, as values on one stream (the GStreamer bus idea). */
export type CameraOutput = { readonly kind: 'frame'; readonly frame: Frame } | { readonly kind: 'health'; readonly health: CameraHealth };

export const isFrameOutput = (o: CameraOutput): o is Extract<CameraOutput, { kind: 'frame' }> => o.kind === 'frame';
export const isHealthOutput = (o: CameraOutput): o is Extract<CameraOutput, { kind: 'health' }> => o.kind === 'health';

/**
 * The ingest operator: one camera's frames and health as a cold Observable (each subscription runs
 * its own pipeline and stops it on unsubscribe). Health comes first (camera.starting is emitted
 * while the pipeline is being started), then frames and health interleaved as they happen.
 */
export function cameraFrames(
  config: CameraConfig,
  opts: CameraOptions & { /** Handed the camera's counters reader when it opens (metrics, /v1/cameras). */ stats?: (read: () => CameraStats) => void } = {},
): Observable<CameraOutput> {
  return new Observable<CameraOutput>((subscriber) => {
    const cam = openCamera(config, opts);
    opts.stats?.(() => cam.stats());
    const sub = cam.health.subscribe((health) => subscriber.next({ kind: 'health', health }));
    sub.add(cam.frames.subscribe({ next: (frame) => subscriber.next({ kind: 'frame', frame }), error: (e: unknown) => subscriber.error(e), complete: () => subscriber.complete() }));
    return () => {
      sub.unsubscribe();
      cam.close();
    };
  });
}

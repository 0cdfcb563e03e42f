/**
 * Which frames the detector runs on: pure decision logic, no clock (frame times are passed in).
 *
 * - tentative tracks (a face appearing): every frame, as without a gate, so a track is confirmed
 *   exactly as before;
 * - confirmed tracks whose recognition has not settled (recognition's `onSettled`: its confirming
 *   looks and its liveness are not in yet): every frame, so a gate's decision comes as soon as
 *   without the interval;
 * - confirmed, settled tracks: every `interval`-th frame, the tracker predicting in between, and at
 *   once on motion beside them (outside every tracked face's person zone: someone else coming in;
 *   `motionBesideFaces`);
 * - only lost tracks (a face occluded or gone, kept for the tracker's maxLostMs): every frame with
 *   motion (someone coming back or in), else every `interval`-th frame: a doorway a visitor has
 *   just left is otherwise detected on every frame for maxLostMs (interval 1: every frame, as before);
 * - no tracks: every frame with motion or while the motion detector is still learning its noise
 *   floors (warm-up), and one frame per `keepAliveMs` otherwise (a face that came in without
 *   motion the gate saw is still found within keepAliveMs);
 * - motion off: every frame (subject to the interval).
 */
import type { Box, RgbImage } from '../types.ts';
import { motionBesideFaces } from './beside.ts';
import { createMotionDetector, greyThumbnail, type GreyImage, type MotionDetector, type MotionParams, type MotionResult } from './motion.ts';

export interface MotionGateSettings {
  /** Run the motion gate at all (off: every frame goes to detection, subject to `interval`). */
  readonly enabled: boolean;
  /** With no tracks and no motion, still detect once per this many ms. */
  readonly keepAliveMs: number;
  /** Tuning of the motion detector (the defaults: DEFAULT_MOTION_PARAMS). */
  readonly params?: Partial<MotionParams> | undefined;
}

export interface DetectionGateSettings {
  readonly motion: MotionGateSettings;
  /** While every visible face's recognition has settled and none is appearing, detect every interval-th frame (1 = every frame). */
  readonly interval: number;
}

/** No gate: every frame is detected (the behaviour without these settings). */
export const UNGATED: DetectionGateSettings = Object.freeze({ motion: Object.freeze({ enabled: false, keepAliveMs: 1000 }), interval: 1 });

/** What the tracker said after the last frame it saw. */
export interface TrackActivity {
  /** Confirmed tracks (visible at the last step). */
  readonly confirmed: number;
  /** Of those, tracks whose recognition has not settled yet (they get every frame). */
  readonly deciding: number;
  /** Tentative tracks (faces appearing). */
  readonly tentative: number;
  /** Lost tracks (confirmed faces not matched lately, kept for the tracker's maxLostMs). */
  readonly lost: number;
}

/** What the tracker says after a step, as the gate takes it. */
export interface TrackerState {
  /** Ids of the visible confirmed tracks. */
  readonly confirmed: readonly string[];
  /** Boxes of the visible confirmed tracks, normalised to 0..1 of the frame (motion beside them counts). */
  readonly faces?: readonly Box[];
  readonly tentative: number;
  readonly lost: number;
}

export type GateReason = 'first' | 'tentative' | 'deciding' | 'interval' | 'beside' | 'motion' | 'warm-up' | 'keep-alive' | 'ungated';

export type GateDecision = { readonly detect: true; readonly reason: GateReason } | { readonly detect: false; readonly reason: 'between' | 'idle' };

export interface GateInput {
  readonly timeMs: number;
  /** Motion seen since the last frame the gate decided on (frames latest-wins dropped included). */
  readonly motion: boolean;
  /** Of that motion, enough outside the tracked faces' person zones to count (a scene change counts). */
  readonly motionBeside?: boolean;
  /** The motion detector is still learning its noise floors (its verdicts are not yet trusted). */
  readonly warming?: boolean;
  readonly tracks: TrackActivity;
  /** Time of the last detected frame; undefined before the first. */
  readonly lastDetectAt: number | undefined;
  /** Frames decided since the last detected one (0 right after it). */
  readonly framesSinceDetect: number;
}

export function decideDetection(input: GateInput, settings: DetectionGateSettings): GateDecision {
  if (input.lastDetectAt === undefined) return { detect: true, reason: 'first' };
  if (input.tracks.tentative > 0) return { detect: true, reason: 'tentative' };
  if (input.tracks.deciding > 0) return { detect: true, reason: 'deciding' };
  const due = input.framesSinceDetect + 1 >= settings.interval;
  if (input.tracks.confirmed > 0) {
    if (due) return { detect: true, reason: 'interval' };
    return settings.motion.enabled && input.motionBeside === true ? { detect: true, reason: 'beside' } : { detect: false, reason: 'between' };
  }
  if (input.tracks.lost > 0) {
    if (settings.motion.enabled && input.motion) return { detect: true, reason: 'motion' };
    return due ? { detect: true, reason: 'interval' } : { detect: false, reason: 'between' };
  }
  if (!settings.motion.enabled) return settings.interval <= 1 || input.framesSinceDetect + 1 >= settings.interval ? { detect: true, reason: 'ungated' } : { detect: false, reason: 'between' };
  if (input.motion) return { detect: true, reason: 'motion' };
  if (input.warming === true) return { detect: true, reason: 'warm-up' };
  // A clock that stepped back (camera restart) counts as due.
  const since = input.timeMs - input.lastDetectAt;
  if (since >= settings.motion.keepAliveMs || since < 0) return { detect: true, reason: 'keep-alive' };
  return { detect: false, reason: 'idle' };
}

/** Counters of one gate, by reason (what /metrics or a bench reads). */
export type GateCounts = Record<GateReason | 'between' | 'idle', number>;

export const newGateCounts = (): GateCounts => ({ first: 0, tentative: 0, deciding: 0, interval: 0, beside: 0, motion: 0, 'warm-up': 0, 'keep-alive': 0, ungated: 0, between: 0, idle: 0 });

/**
 * One camera's gate: feed it every arriving frame (`observe`: motion on a tiny grey copy), the
 * tracker's activity after each step (`tracked`), and ask it when the detector could take a frame
 * (`take`). Synchronous and clock-free; the camera chain wires it.
 */
export class DetectionGate {
  readonly counts: GateCounts = newGateCounts();
  /** Mean µs of the motion step per observed frame (thumbnail + compare). */
  motionMicros = 0;
  lastMotion: MotionResult | undefined;
  private readonly motion: MotionDetector | undefined;
  private grey: GreyImage | undefined;
  private motionSinceTake = false;
  /** Cells moved in any frame observed since the last take (OR-ed), and whether one was a scene change. */
  private movedSinceTake: Uint8Array | undefined;
  private movedWidth = 0;
  private movedHeight = 0;
  private anyMovedSinceTake = false;
  private globalSinceTake = false;
  private warming = false;
  private lastDetectAt: number | undefined;
  private framesSinceDetect = 0;
  /** Tracks whose recognition has settled (`settle`), while they may still be seen. */
  private readonly settledTracks = new Set<string>();
  private lastStep: TrackerState = { confirmed: [], tentative: 0, lost: 0 };
  private observed = 0;

  constructor(readonly settings: DetectionGateSettings) {
    this.motion = settings.motion.enabled ? createMotionDetector(settings.motion.params) : undefined;
  }

  /** Every frame as it arrives; `image` is the smallest copy at hand (the detector copy when there is one). */
  observe(image: RgbImage, nowMicros?: () => number): void {
    if (!this.motion) return;
    const t0 = nowMicros?.();
    this.grey = greyThumbnail(image, this.motion.params.width, this.grey);
    const r = this.motion.update(this.grey);
    this.lastMotion = r;
    if (r.motion) this.motionSinceTake = true;
    if (r.global) this.globalSinceTake = true;
    if (r.score > 0) this.orMoved(r.moved.cells, r.moved.width, r.moved.height);
    this.warming = r.warming;
    if (t0 !== undefined && nowMicros) {
      this.observed++;
      this.motionMicros += (nowMicros() - t0 - this.motionMicros) / this.observed;
    }
  }

  /**
   * Whether the camera has something to do now: faces tracked, or motion in the last frame seen
   * (or no motion gate at all). Ingest reads it to decide whether its decoder needs every frame
   * (`idleDecode: keyframes`). The warm-up does not count: the noise floors can be learnt on key
   * frames as well, and a box whose cameras all start at once would otherwise decode every frame of
   * all of them until each had seen its warm-up frames (measured: 24 cameras on 2 cores never got
   * there).
   */
  busy(): boolean {
    if (!this.motion) return true;
    const s = this.lastStep;
    return s.confirmed.length + s.tentative + s.lost > 0 || this.motionSinceTake || (this.lastMotion?.motion ?? false);
  }

  private orMoved(cells: Uint8Array, width: number, height: number): void {
    if (this.movedSinceTake?.length !== cells.length || this.movedWidth !== width) {
      this.movedSinceTake = new Uint8Array(cells.length);
      this.movedWidth = width;
      this.movedHeight = height;
    }
    const acc = this.movedSinceTake;
    for (let i = 0; i < cells.length; i++) acc[i] |= cells[i];
    this.anyMovedSinceTake = true;
  }

  /** Whether what moved since the last take lies beside the tracked faces (only asked with confirmed tracks). */
  private motionBeside(): boolean {
    if (this.globalSinceTake) return true;
    if (!this.motion || !this.anyMovedSinceTake || this.movedSinceTake === undefined) return false;
    const share = motionBesideFaces({ cells: this.movedSinceTake, width: this.movedWidth, height: this.movedHeight }, this.lastStep.faces ?? []);
    return share >= this.motion.params.minAreaFraction;
  }

  /** The tracker's state after a step: the visible confirmed tracks' ids, tentative and lost counts. */
  tracked(step: TrackerState): void {
    // With no lost track, a settled track that is not visible has ended (ids are never reused).
    if (step.lost === 0) for (const id of this.settledTracks) if (!step.confirmed.includes(id)) this.settledTracks.delete(id);
    this.lastStep = step;
  }

  /** The last step's counts, with the visible tracks not settled yet as `deciding`. */
  private activity(): TrackActivity {
    const step = this.lastStep;
    const deciding = step.confirmed.filter((id) => !this.settledTracks.has(id)).length;
    return { confirmed: step.confirmed.length, deciding, tentative: step.tentative, lost: step.lost };
  }

  /** Recognition has settled for this track: from now on it is detected every interval-th frame. */
  settle(trackId: string): void {
    this.settledTracks.add(trackId);
  }

  /** Whether to run the detector on this frame (the frame the detector would take next). */
  take(timeMs: number): GateDecision {
    const activity = this.activity();
    const motionBeside = activity.confirmed > 0 && activity.deciding === 0 && activity.tentative === 0 && this.motionSinceTake && this.motionBeside();
    const d = decideDetection({ timeMs, motion: this.motionSinceTake, motionBeside, warming: this.warming, tracks: activity, lastDetectAt: this.lastDetectAt, framesSinceDetect: this.framesSinceDetect }, this.settings);
    this.motionSinceTake = false;
    this.globalSinceTake = false;
    if (this.anyMovedSinceTake) {
      this.movedSinceTake?.fill(0);
      this.anyMovedSinceTake = false;
    }
    this.counts[d.reason]++;
    if (d.detect) {
      this.lastDetectAt = timeMs;
      this.framesSinceDetect = 0;
    } else {
      this.framesSinceDetect++;
    }
    return d;
  }
}

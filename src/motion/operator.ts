/**
 * The gate's RxJS face: `observeMotion` feeds it every arriving frame, `reportTracks` feeds it the
 * tracker's state after each step. The detect stage asks it per frame (`detectFaces`' `gate`
 * option); the camera chain wires the three.
 */
import { tap } from 'rxjs/operators';
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { Frame } from '../types.ts';
import type { DetectionGate } from './gate.ts';

const micros = (): number => performance.now() * 1000;

/** Motion on every frame as it arrives (before latest-wins may drop it), on the detector copy when there is one. */
export function observeMotion<F extends Frame>(gate: DetectionGate): MonoTypeOperatorFunction<F> {
  return tap((frame) => gate.observe(frame.detectView ?? frame, micros));
}

/** What a tracker step says the gate needs: confirmed, tentative and lost track counts. */
export interface TrackedLike {
  readonly kind: string;
  readonly update?: { readonly tracks: readonly { readonly trackId: string }[]; readonly tentative: number; readonly lost: number };
}

/** The tracker's state after each frame step, for the next decision (flushes carry none). */
export function reportTracks<T extends TrackedLike>(gate: DetectionGate): MonoTypeOperatorFunction<T> {
  return tap((out) => {
    if (out.update) gate.tracked({ confirmed: out.update.tracks.map((t) => t.trackId), tentative: out.update.tentative, lost: out.update.lost });
  });
}

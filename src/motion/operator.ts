/**
 * The gate's RxJS face: `observeMotion` feeds it every arriving frame, `reportTracks` feeds it the
 * tracker's state after each step. The detect stage asks it per frame (`detectFaces`' `gate`
 * option); the camera chain wires the three.
 */
import { tap } from 'rxjs/operators';
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { Box, Frame } from '../types.ts';
import type { DetectionGate } from './gate.ts';

const micros = (): number => performance.now() * 1000;

/** Motion on every frame as it arrives (before latest-wins may drop it), on the detector copy when there is one. */
export function observeMotion<F extends Frame>(gate: DetectionGate): MonoTypeOperatorFunction<F> {
  return tap((frame) => gate.observe(frame.detectView ?? frame, micros));
}

/** What a tracker step says the gate needs: confirmed, tentative and lost track counts. */
export interface TrackedLike {
  readonly kind: string;
  /** The frame stepped on (its size normalises the boxes); absent on flushes. */
  readonly frame?: { readonly width: number; readonly height: number };
  readonly update?: { readonly tracks: readonly { readonly trackId: string; readonly box: Box }[]; readonly tentative: number; readonly lost: number };
}

/** The tracker's state after each frame step, for the next decision (flushes carry none). */
export function reportTracks<T extends TrackedLike>(gate: DetectionGate): MonoTypeOperatorFunction<T> {
  return tap((out) => {
    if (!out.update) return;
    const w = out.frame?.width ?? 0;
    const h = out.frame?.height ?? 0;
    // Without a frame size the boxes cannot be placed: no faces, so any motion counts as beside them (detect sooner, never later).
    const faces = w > 0 && h > 0 ? out.update.tracks.map(({ box: [x1, y1, x2, y2] }): Box => [x1 / w, y1 / h, x2 / w, y2 / h]) : [];
    gate.tracked({ confirmed: out.update.tracks.map((t) => t.trackId), faces, tentative: out.update.tentative, lost: out.update.lost });
  });
}

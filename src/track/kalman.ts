/**
 * Constant-velocity Kalman filter on a box, the same model as DeepSORT / ByteTrack so their tuned
 * noise weights carry over: state is [cx, cy, a, h, vcx, vcy, va, vh] with a = w / h; one predict
 * step is one processed frame. Noise standard deviations are proportional to the box height, so a
 * big (near) face is allowed to move more pixels per frame than a small (far) one.
 */
import type { Box } from '../types.ts';
import { type Matrix, matAdd, matCreate, matDiag, matIdentity, matInverse, matMultiply, matMulVec, matSub, matTranspose } from './matrix.ts';

export const STATE_DIM = 8;
export const MEASUREMENT_DIM = 4;

export interface KalmanParams {
  /** Position noise std as a fraction of box height (DeepSORT: 1/20). */
  readonly stdWeightPosition: number;
  /** Velocity noise std as a fraction of box height per frame (DeepSORT: 1/160). */
  readonly stdWeightVelocity: number;
}

export const DEFAULT_KALMAN_PARAMS: Readonly<KalmanParams> = Object.freeze({
  stdWeightPosition: 1 / 20,
  stdWeightVelocity: 1 / 160,
});

export interface KalmanState {
  /** [cx, cy, a, h, vcx, vcy, va, vh]. */
  readonly mean: Float64Array;
  /** 8x8 state covariance. */
  readonly covariance: Matrix;
}

/** A state projected into measurement space [cx, cy, a, h], with its 4x4 covariance (incl. measurement noise). */
export interface KalmanProjection {
  readonly mean: Float64Array;
  readonly covariance: Matrix;
}

/** F: x' = x + v (one frame). */
const MOTION: Matrix = (() => {
  const f = matIdentity(STATE_DIM);
  for (let i = 0; i < MEASUREMENT_DIM; i++) f.data[i * STATE_DIM + MEASUREMENT_DIM + i] = 1;
  return f;
})();
const MOTION_T = matTranspose(MOTION);

/** H: we observe the first four state components. */
const OBSERVATION: Matrix = (() => {
  const h = matCreate(MEASUREMENT_DIM, STATE_DIM);
  for (let i = 0; i < MEASUREMENT_DIM; i++) h.data[i * STATE_DIM + i] = 1;
  return h;
})();
const OBSERVATION_T = matTranspose(OBSERVATION);

/** [x1, y1, x2, y2] -> [cx, cy, a = w / h, h]. The box must have positive height. */
export function boxToMeasurement(box: Box): Float64Array {
  const [x1, y1, x2, y2] = box;
  const w = x2 - x1;
  const h = y2 - y1;
  return Float64Array.of((x1 + x2) / 2, (y1 + y2) / 2, w / h, h);
}

/** [cx, cy, a, h, ...] -> [x1, y1, x2, y2]; reads the first four values (a state mean works too). */
export function measurementToBox(m: ArrayLike<number>): Box {
  const cx = m[0];
  const cy = m[1];
  const h = m[3];
  const w = m[2] * h;
  return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
}

function squares(values: readonly number[]): number[] {
  return values.map((v) => v * v);
}

/** A new track's state from its first measurement: zero velocity, wide velocity uncertainty. */
export function kalmanInitiate(measurement: ArrayLike<number>, params: KalmanParams = DEFAULT_KALMAN_PARAMS): KalmanState {
  const mean = new Float64Array(STATE_DIM);
  for (let i = 0; i < MEASUREMENT_DIM; i++) mean[i] = measurement[i];
  const h = measurement[3];
  const p = params.stdWeightPosition * h;
  const v = params.stdWeightVelocity * h;
  // Aspect ratio is nearly constant for a face, hence the tiny fixed stds (not height-scaled).
  const std = [2 * p, 2 * p, 1e-2, 2 * p, 10 * v, 10 * v, 1e-5, 10 * v];
  return { mean, covariance: matDiag(squares(std)) };
}

/** One frame ahead: x' = F x, P' = F P F^T + Q, with Q scaled by the current height. */
export function kalmanPredict(state: KalmanState, params: KalmanParams = DEFAULT_KALMAN_PARAMS): KalmanState {
  const h = state.mean[3];
  const p = params.stdWeightPosition * h;
  const v = params.stdWeightVelocity * h;
  const q = matDiag(squares([p, p, 1e-2, p, v, v, 1e-5, v]));
  const mean = matMulVec(MOTION, state.mean);
  const covariance = matAdd(matMultiply(matMultiply(MOTION, state.covariance), MOTION_T), q);
  return { mean, covariance };
}

/** State in measurement space: H x and H P H^T + R, with R scaled by the current height. */
export function kalmanProject(state: KalmanState, params: KalmanParams = DEFAULT_KALMAN_PARAMS): KalmanProjection {
  const p = params.stdWeightPosition * state.mean[3];
  const r = matDiag(squares([p, p, 1e-1, p]));
  const mean = matMulVec(OBSERVATION, state.mean);
  const covariance = matAdd(matMultiply(matMultiply(OBSERVATION, state.covariance), OBSERVATION_T), r);
  return { mean, covariance };
}

/** Correct a (predicted) state with a measurement [cx, cy, a, h]: K = P H^T S^-1, x' = x + K y, P' = P - K S K^T. */
export function kalmanUpdate(
  state: KalmanState,
  measurement: ArrayLike<number>,
  params: KalmanParams = DEFAULT_KALMAN_PARAMS,
): KalmanState {
  const projected = kalmanProject(state, params);
  const gain = matMultiply(matMultiply(state.covariance, OBSERVATION_T), matInverse(projected.covariance));
  const innovation = new Float64Array(MEASUREMENT_DIM);
  for (let i = 0; i < MEASUREMENT_DIM; i++) innovation[i] = measurement[i] - projected.mean[i];
  const correction = matMulVec(gain, innovation);
  const mean = new Float64Array(STATE_DIM);
  for (let i = 0; i < STATE_DIM; i++) mean[i] = state.mean[i] + correction[i];
  const covariance = matSub(state.covariance, matMultiply(matMultiply(gain, projected.covariance), matTranspose(gain)));
  return { mean, covariance };
}

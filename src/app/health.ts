/**
 * The periodic `system.health` event: one look at the whole box that an operator (or a hub, or
 * Home Assistant through the MQTT events topic) can read without scraping /metrics. Pure: the
 * service samples the counters and the clock and hands them in.
 */
import type { NewEventOf } from '../events/index.ts';

export interface CameraHealthSample {
  readonly id: string;
  /** Last health event type: camera.up / camera.down / camera.stalled / starting. */
  readonly status: string;
  /** Frames per second over the interval: arrived in JS, through detection, lost before JS. */
  readonly fpsIn: number;
  readonly fpsProcessed: number;
  readonly lostPerS: number;
}

export interface SinkHealthSample {
  readonly name: string;
  readonly connected: boolean;
  readonly lag: number;
  readonly lastError: string | undefined;
  /** Connected but not to be trusted (e.g. the broker never echoed a test message). */
  readonly warning?: string | undefined;
}

export interface HealthSample {
  readonly nowMs: number;
  readonly uptimeMs: number;
  readonly rssBytes: number;
  readonly cameras: readonly CameraHealthSample[];
  readonly sinks: readonly SinkHealthSample[];
  /** p95 of each model's run time over the process lifetime, ms. */
  readonly modelP95Ms: Readonly<Record<string, number>>;
  readonly eventLogLastId: number;
}

const round = (v: number, digits = 1): number => Number(v.toFixed(digits));

/**
 * Samples named with this prefix are a door's inputs (src/app/doors.ts: the contact and REX on the
 * MQTT broker), not an output: worded as such, and kept under `input.` in the details.
 */
export const DOOR_INPUT_HEALTH_PREFIX = 'door-input.';
const isDoorInput = (name: string): boolean => name.startsWith(DOOR_INPUT_HEALTH_PREFIX);
const label = (name: string): string => (isDoorInput(name) ? `door input of gate ${name.slice(DOOR_INPUT_HEALTH_PREFIX.length)}` : `sink ${name}`);
const detailKey = (name: string): string => (isDoorInput(name) ? `input.${name}` : `sink.${name}`);

/**
 * ok: every camera up and every sink connected without a warning; degraded: something is down,
 * or a sink is connected but warned about (named in the message); error: cameras are configured
 * and none is up (the door is blind).
 */
export function systemHealthEvent(s: HealthSample): NewEventOf<'system.health'> {
  const down = s.cameras.filter((c) => c.status !== 'camera.up');
  const sinksDown = s.sinks.filter((k) => !k.connected);
  // A sink that is connected yet loses what it sends is as bad as one that is down, and worse to
  // miss: its lag stays 0 and its delivered count rises.
  const sinksWarned = s.sinks.filter((k) => k.connected && k.warning !== undefined);
  const blind = s.cameras.length > 0 && down.length === s.cameras.length;
  const status = blind ? 'error' : down.length || sinksDown.length || sinksWarned.length ? 'degraded' : 'ok';
  const problems = [
    ...down.map((c) => `camera ${c.id} ${c.status.replace('camera.', '')}`),
    ...sinksDown.map((k) => `${label(k.name)} not connected${k.lastError ? ` (${k.lastError})` : ''}`),
    ...sinksWarned.map((k) => `${label(k.name)}: ${k.warning ?? ''}`),
  ];
  const details: Record<string, number | string | boolean> = { eventLogLastId: s.eventLogLastId };
  for (const c of s.cameras) {
    details[`camera.${c.id}.fpsIn`] = round(c.fpsIn);
    details[`camera.${c.id}.fpsProcessed`] = round(c.fpsProcessed);
    details[`camera.${c.id}.lostPerS`] = round(c.lostPerS);
  }
  for (const k of s.sinks) {
    details[`${detailKey(k.name)}.connected`] = k.connected;
    if (!isDoorInput(k.name)) details[`sink.${k.name}.lag`] = k.lag;
    if (k.warning !== undefined) details[`${detailKey(k.name)}.warning`] = k.warning;
  }
  for (const [model, ms] of Object.entries(s.modelP95Ms)) details[`model.${model}.p95Ms`] = round(ms);
  return {
    type: 'system.health',
    timeMs: s.nowMs,
    data: {
      status,
      ...(problems.length ? { message: problems.join('; ').slice(0, 1000) } : {}),
      uptimeMs: Math.max(0, Math.round(s.uptimeMs)),
      rssBytes: s.rssBytes,
      cameras: Object.fromEntries(s.cameras.map((c) => [c.id, c.status])),
      details,
    },
  };
}

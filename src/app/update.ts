/**
 * What a new config means before it is applied: the sections only a restart applies (new model
 * sessions, another port, other stores) and a log line per camera added, changed or removed.
 * Everything else follows the config by itself (src/lib/follow.ts, the keyed camera slices).
 */
import { diffConfig, type Config } from '../config/index.ts';
import type { Logger } from '../log.ts';

export function restartNeeded(previous: Config, next: Config): string[] {
  const diff = diffConfig(previous, next);
  const restart: string[] = [];
  for (const s of ['server', 'models', 'recognition', 'events', 'gallery', 'fleet'] as const) if (diff[s]) restart.push(s);
  if (diff.auth && next.auth.enabled !== previous.auth.enabled) restart.push('auth.enabled');
  return restart;
}

export function logCameraChanges(previous: Config, next: Config, log: Logger): void {
  const { added, removed, changed } = diffConfig(previous, next).cameras;
  for (const id of removed) log.info({ camera: id }, 'camera removed');
  for (const id of changed) log.info({ camera: id }, 'camera changed (its pipeline restarts when its stream settings changed; zones and name apply at once)');
  for (const id of added) log.info({ camera: id }, 'camera added');
}

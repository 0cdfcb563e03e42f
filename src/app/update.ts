/**
 * What a new config means before it is applied: the sections only a restart applies (new model
 * sessions, another port, other stores) and a log line per camera added, changed or removed.
 * Everything else follows the config by itself (src/lib/follow.ts, the keyed camera slices).
 */
import type { BehaviorSubject } from 'rxjs';
import { diffConfig, type Config } from '../config/index.ts';
import type { Followers } from '../lib/follow.ts';
import type { Logger } from '../log.ts';
import type { ServiceModels } from './models.ts';

export function restartNeeded(previous: Config, next: Config): string[] {
  const diff = diffConfig(previous, next);
  const restart: string[] = [];
  for (const s of ['server', 'models', 'recognition', 'events', 'gallery', 'fleet'] as const) if (diff[s]) restart.push(s);
  if (diff.auth && next.auth.enabled !== previous.auth.enabled) restart.push('auth.enabled');
  // The stores are opened (and their keys unlocked) at start; consent settings are read per enrollment.
  if (JSON.stringify(previous.privacy.encryption) !== JSON.stringify(next.privacy.encryption)) restart.push('privacy.encryption');
  // The retention run's timer and hours are set when the stores open.
  if (JSON.stringify(previous.privacy.retention) !== JSON.stringify(next.privacy.retention)) restart.push('privacy.retention');
  return restart;
}

export function logCameraChanges(previous: Config, next: Config, log: Logger): void {
  const { added, removed, changed } = diffConfig(previous, next).cameras;
  for (const id of removed) log.info({ camera: id }, 'camera removed');
  for (const id of changed) log.info({ camera: id }, 'camera changed (its pipeline restarts when its stream settings changed; zones and name apply at once)');
  for (const id of added) log.info({ camera: id }, 'camera added');
}

/**
 * update(next), one change at a time in the order they came: the detectors new cameras need are
 * loaded, the config moves on (tokens are read per request: they apply at once), and it resolves
 * once every part has followed, with the sections that need a restart.
 */
export function createUpdater(config$: BehaviorSubject<Config>, models: Pick<ServiceModels, 'ensureDetector'>, follow: Followers<Config>, log: Logger): (next: Config) => Promise<string[]> {
  let applying: Promise<unknown> = Promise.resolve();
  const apply = async (next: Config): Promise<string[]> => {
    const restart = restartNeeded(config$.value, next);
    for (const c of next.cameras) await models.ensureDetector(c);
    logCameraChanges(config$.value, next, log);
    config$.next(next);
    await follow.settled();
    if (restart.length) log.warn({ sections: restart }, 'these settings take effect after a restart of facegate');
    return restart;
  };
  return (next) => {
    const done = applying.then(() => apply(next));
    applying = done.catch(() => undefined);
    return done;
  };
}

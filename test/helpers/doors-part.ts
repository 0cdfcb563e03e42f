/**
 * The service's doors part (src/app/doors.ts) as a service start runs it, for door tests: a real
 * event log (in memory, or a file a restart reopens) and its bus, every published event collected,
 * the part following its config slice. `stop` closes it all (idempotent); the caller decides when,
 * in its own teardown, after what it started on top (an API, a sensor client).
 */
import { BehaviorSubject } from 'rxjs';
import type { Test } from 'tap';
import { startServiceDoors } from '../../src/app/doors.ts';
import type { Config } from '../../src/config/index.ts';
import { EventBus, EventLog, type Event } from '../../src/events/index.ts';
import { Followers } from '../../src/lib/follow.ts';
import { Lifetime } from '../../src/lib/lifetime.ts';
import { createLogger, type Logger } from '../../src/log.ts';

type DoorsOptions = Parameters<typeof startServiceDoors>[1];

export interface DoorsPart {
  readonly log: EventLog;
  readonly bus: EventBus;
  readonly events: Event[];
  readonly doors: ReturnType<typeof startServiceDoors>;
  readonly lifetime: Lifetime;
  readonly follow: Followers<Config>;
  readonly stop: () => Promise<void>;
}

export async function startDoorsPart(t: Test, config: Config, o: { readonly db?: string; readonly logger?: Logger; readonly identities?: DoorsOptions['identities'] } = {}): Promise<DoorsPart> {
  const log = new EventLog(o.db ?? ':memory:');
  const bus = new EventBus(log);
  const events: Event[] = [];
  const sub = bus.events$.subscribe((e) => events.push(e));
  const lifetime = new Lifetime();
  const follow = new Followers(new BehaviorSubject(config), (part, err) => t.fail(`${part}: ${String(err)}`));
  const doors = startServiceDoors(config, { bus, log: o.logger ?? createLogger({ level: 'silent' }), ...(o.identities ? { identities: o.identities } : {}) }, follow, lifetime);
  await follow.settled();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await lifetime.close();
    await follow.close();
    sub.unsubscribe();
    bus.close();
    log.close();
  };
  return { log, bus, events, doors, lifetime, follow, stop };
}

/**
 * The service's event sinks: one cursor store (`outputs.sqlite` beside events.db) and one runner
 * (src/outputs/sink.ts) for every sink, each fed from the log after its own cursor, so a broker or
 * hub that is down or slow never reaches the pipeline. MQTT follows its config slice: a changed
 * `events.outputs.mqtt` detaches the old sink (a clean goodbye, `offline` on its availability
 * topic) and attaches the new one from the same cursor, so nothing is delivered twice or lost
 * across the swap; turned off, its cursor is kept and turning it on resumes there. Home Assistant
 * hears of changed cameras and gates at once. Fleet mode attaches the forwarder and the snapshot
 * uploader to the same runner (src/fleet/edge.ts).
 */
import type { GateApi } from '../api/server.ts';
import { deepEqual, type Config } from '../config/index.ts';
import type { EventBus, SnapshotStore } from '../events/index.ts';
import type { GatePolicy } from '../gates/index.ts';
import { legacyFleetStatePath } from '../fleet/edge.ts';
import type { Followers } from '../lib/follow.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import { CursorStore, cursorStorePath, createMqttSink, runSinks, type MqttSink, type MqttSinkOptions, type SinkMetrics, type SinkRunner } from '../outputs/index.ts';
import type { AccessControl } from '../../streams/access-control.ts';
import { cameraViews, type CameraView } from './camera-counts.ts';
import { gateView } from './gate-api.ts';

export interface ServiceSinksOptions {
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly metrics?: SinkMetrics | undefined;
  readonly config: () => Config;
  readonly access: Pick<AccessControl, 'counters' | 'cameraIds' | 'gateState$'>;
  readonly gates: () => readonly GatePolicy[];
  readonly gateApi: GateApi;
  readonly snapshots: SnapshotStore;
  /** An operator's door mode from an MQTT command (the doors part). */
  readonly doorMode?: MqttSinkOptions['doorMode'];
}

/** What the MQTT sink asks of the box: cameras and gates for Home Assistant, snapshots, manual commands. */
function mqttHooks(o: ServiceSinksOptions): Pick<MqttSinkOptions, 'cameras' | 'gates' | 'snapshot' | 'manual' | 'doorMode'> {
  const cameraStatus = (s: CameraView['status']): 'up' | 'down' | undefined => (s === 'camera.up' ? 'up' : s === 'starting' || s === 'camera.starting' ? undefined : 'down');
  return {
    cameras: () => cameraViews(o.config().cameras, o.access).map((c) => ({ id: c.id, name: c.name, status: cameraStatus(c.status) })),
    gates: () => o.gates().map((g) => ({ id: g.id, name: g.name ?? g.id, heldOpen: gateView(g, o.access.gateState$.value).manual !== null, door: g.door !== undefined })),
    // read(): decrypted when the snapshot folder is encrypted (privacy.encryption).
    snapshot: async (id) => o.snapshots.read(id, 'face').catch(() => undefined),
    manual: (gateId, action, by, reason) => o.gateApi.manual(gateId, action, by, reason),
    doorMode: o.doorMode,
  };
}

export interface ServiceSinks {
  readonly runner: SinkRunner;
  readonly cursors: CursorStore;
}

export function startServiceSinks(initial: Config, o: ServiceSinksOptions, follow: Followers<Config>, lifetime: Lifetime): ServiceSinks {
  const log = o.logger;
  const cursors = new CursorStore(cursorStorePath(initial.events.db));
  lifetime.add('sink cursors', () => cursors.close());
  // Earlier versions kept the fleet's cursors in a file of their own: take them over once.
  const adopted = cursors.adopt(legacyFleetStatePath(initial.events.db));
  if (adopted > 0) log.info({ rows: adopted, into: cursors.path }, 'sink cursors: took over the fleet cursor file of an earlier version');
  const runner = runSinks([], { bus: o.bus, cursors, logger: log, metrics: o.metrics });
  lifetime.add('sinks', () => runner.stop());

  const hooks = mqttHooks(o);
  let mqtt: MqttSink | undefined;
  follow.follow(
    'mqtt sink',
    (c) => c.events.outputs.mqtt,
    async (config, previous) => {
      const was = mqtt !== undefined;
      if (mqtt) await runner.detach(mqtt.name);
      mqtt = config?.enabled ? createMqttSink({ config, logger: log, cursors, ...hooks }) : undefined;
      if (mqtt) runner.attach(mqtt);
      if (previous !== undefined || was) log.info({ mqtt: mqtt ? (was ? 'restarted' : 'started') : was ? 'stopped' : 'off' }, 'outputs changed: applied without a restart');
    },
    { equal: (a, b) => deepEqual(a, b) },
  );
  // New, changed or removed cameras and gates: Home Assistant learns of them at once.
  follow.follow('home assistant entities', (c) => ({ cameras: c.cameras, gates: c.gates }), () => mqtt?.refresh(), { equal: deepEqual, skipFirst: true });
  return { runner, cursors };
}

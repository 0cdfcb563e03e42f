/**
 * The service's output sinks (src/outputs: MQTT + Home Assistant today), started from the config
 * and re-applied on hot reload: a changed `events.outputs` stops the old sink (a clean goodbye,
 * `offline` on its availability topic) and starts the new one from the same cursor, so nothing
 * is delivered twice or lost across the swap; turning the sink off stops it and keeps the cursor
 * (turning it back on resumes there). The pipeline never waits for any of this: sinks read the log.
 */
import type { Config } from '../config/index.ts';
import type { EventBus } from '../events/index.ts';
import type { Logger } from '../log.ts';
import { CursorStore, cursorStorePath, createMqttSink, runSinks, type MqttSink, type MqttSinkOptions, type SinkMetrics, type SinkRunner } from '../outputs/index.ts';

export interface ServiceOutputsOptions extends Pick<MqttSinkOptions, 'cameras' | 'gates' | 'snapshot' | 'manual'> {
  readonly bus: EventBus;
  /** events.db: the cursors live beside it. */
  readonly eventsDb: string;
  readonly logger: Logger;
  readonly metrics?: SinkMetrics | undefined;
}

export interface ServiceOutputs {
  /** The running sinks and their health; undefined while none is enabled. */
  readonly sinks: SinkRunner | undefined;
  /** Announce cameras and gates again (Home Assistant discovery) after they changed. */
  refresh(): void;
  /** Apply a changed `events.outputs`: stop the old sink, start the new one from its cursor. */
  apply(next: Config['events']['outputs']): Promise<void>;
  close(): Promise<void>;
}

export function startServiceOutputs(initial: Config['events']['outputs'], opts: ServiceOutputsOptions): ServiceOutputs {
  let cursors: CursorStore | undefined;
  let mqtt: MqttSink | undefined;
  let runner: SinkRunner | undefined;
  let closed = false;

  const start = (outputs: Config['events']['outputs']): void => {
    const config = outputs.mqtt;
    if (!config?.enabled) return;
    cursors ??= new CursorStore(cursorStorePath(opts.eventsDb));
    mqtt = createMqttSink({ config, logger: opts.logger, cursors, cameras: opts.cameras, gates: opts.gates, snapshot: opts.snapshot, manual: opts.manual });
    runner = runSinks([mqtt], { bus: opts.bus, cursors, logger: opts.logger, metrics: opts.metrics });
  };

  const stop = async (): Promise<void> => {
    const r = runner;
    runner = undefined;
    mqtt = undefined;
    // The runner stops its sinks and keeps their cursors: the next sink of the same name resumes.
    await r?.stop();
  };

  // Reloads are serialised: a second config change waits for the first swap to finish.
  let applying: Promise<void> = Promise.resolve();
  start(initial);
  return {
    get sinks() {
      return runner;
    },
    refresh: () => mqtt?.refresh(),
    apply: (next) => {
      const swap = async (): Promise<void> => {
        if (closed) return;
        const was = mqtt !== undefined;
        await stop();
        start(next);
        const now = mqtt !== undefined;
        opts.logger.info({ mqtt: now ? (was ? 'restarted' : 'started') : was ? 'stopped' : 'off' }, 'outputs changed: applied without a restart');
      };
      // After a failed swap (its error went to that caller) the next one still runs.
      applying = applying.then(swap, swap);
      return applying;
    },
    close: async () => {
      closed = true;
      await applying.catch(() => undefined);
      await stop();
      cursors?.close();
    },
  };
}

/**
 * `facegate run --config FILE`: the service, with hot reload of the config file.
 * `facegate demo`: the shipped demo (src/demo/demo.ts).
 * `facegate watch`: print the events of a running facegate, resuming across reconnects.
 */
import { Option, type Command } from 'commander';
import { startService } from '../app/service.ts';
import { formatEvent } from '../client/format.ts';
import { watchEvents } from '../client/watch.ts';
import { configWarnings, loadConfig, newConfigWarnings, watchConfig } from '../config/index.ts';
import { runDemo } from '../demo/demo.ts';
import { createLogger } from '../log.ts';
import { describeError, nonNegativeInt } from './common.ts';

/** How long a stop may take before the process exits anyway: SIGTERM always stops. */
const STOP_DEADLINE_MS = 20_000;

/**
 * Resolves on the first SIGINT/SIGTERM and aborts the controller (a start-up in progress stops);
 * a second signal exits at once, and so does a stop that takes longer than STOP_DEADLINE_MS.
 */
function untilSignal(): { promise: Promise<string>; controller: AbortController } {
  const controller = new AbortController();
  const promise = new Promise<string>((resolve) => {
    const on = (sig: string) => () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
      setTimeout(() => {
        process.stderr.write(`error: facegate did not stop within ${STOP_DEADLINE_MS / 1000} s of ${sig}: exiting\n`);
        process.exit(1);
      }, STOP_DEADLINE_MS).unref();
      resolve(sig);
    };
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });
  return { promise, controller };
}

export function registerRunCommands(program: Command): void {
  program
    .command('run')
    .description('run facegate from a config file: cameras -> detect -> track -> recognize -> gates -> events, HTTP API and WebSocket alerts; the file is watched and reloaded')
    .requiredOption('-c, --config <file>', 'YAML config file (`facegate config check FILE` validates it)')
    .option('--port <port>', "override server.port (0 = any free port)", nonNegativeInt('--port'))
    .option('--no-watch', 'do not reload the config file when it changes')
    .action(async (o: { config: string; port?: number; watch: boolean }) => {
      const config = loadConfig(o.config);
      const log = createLogger({ level: config.logging.level });
      for (const w of configWarnings(config)) log.warn({ config: o.config }, w);
      const { promise, controller } = untilSignal();
      let service: Awaited<ReturnType<typeof startService>>;
      try {
        service = await startService(config, { logger: log, port: o.port, signal: controller.signal, configFile: o.config });
      } catch (e) {
        // Whatever had started is stopped already (startService unwinds): one line, then exit.
        if (controller.signal.aborted) {
          log.info('stopped during start-up');
          process.exit(0);
        }
        process.stderr.write(`error: ${describeError(e)}\n`);
        process.exit(1);
      }
      const watcher = o.watch
        ? watchConfig(o.config, {
            initial: config,
            onChange: (next, diff, previous) => {
              log.info({ sections: diff.sections, cameras: diff.cameras }, 'config changed: applying');
              for (const w of newConfigWarnings(previous, next)) log.warn({ config: o.config }, w);
              service.update(next).catch((e: unknown) => log.error({ err: e, detail: describeError(e) }, 'config reload failed'));
            },
            onError: (e) => log.error({ detail: e.describe() }, 'config file rejected; the running config stays'),
          })
        : undefined;
      const sig = await promise;
      log.info({ signal: sig }, 'stopping');
      watcher?.close();
      await service.close();
    });

  program
    .command('demo')
    .description('the shipped demo: a loopback RTSP door camera serving a clip of real people, a gallery enrolled from photos, one gate, and a WebSocket client printing the events')
    .option('--port <port>', 'API port (default 8640 from config/demo.yaml; 0 = any free port)', nonNegativeInt('--port'))
    .option('--once', 'one pass of the clip, then exit: code 1 unless at least one granted and one denied decision (for scripts and tests)')
    .option('--forever', 'keep running (the default; kept for older scripts)')
    .option('--all', 'print track events too')
    .option('--mqtt <url>', 'also publish events, state and Home Assistant discovery to this MQTT broker (mqtt://HOST:PORT)')
    .addOption(new Option('--log-level <level>', 'service log level (stderr)').choices(['fatal', 'error', 'warn', 'info', 'debug']).default('error'))
    .action(async (o: { port?: number; once?: boolean; forever?: boolean; all?: boolean; mqtt?: string; logLevel: string }) => {
      const { controller } = untilSignal();
      // Keeps running (the dashboard with the live demo behind it) unless --once.
      const r = await runDemo({ logger: createLogger({ level: o.logLevel }), port: o.port, forever: !o.once, all: o.all, mqtt: o.mqtt, signal: controller.signal });
      if (o.once && (r.granted === 0 || r.denied === 0)) {
        process.stderr.write('error: the demo expected at least one granted and one denied decision (see the log above)\n');
        process.exitCode = 1;
      }
      process.exit(process.exitCode ?? 0);
    });

  program
    .command('watch')
    .description('print the events of a running facegate (reconnects and resumes with since)')
    .option('--url <url>', 'server URL', 'http://127.0.0.1:8640')
    .option('--since <id>', 'replay from after this event id (default: only new events)', nonNegativeInt('--since'))
    .option('--type <pattern...>', 'event types, e.g. gate.* face.recognized')
    .option('--camera <id...>', 'only these cameras')
    .option('--gate <id...>', 'only these gates')
    .option('--json', 'one JSON event per line')
    .action(async (o: { url: string; since?: number; type?: string[]; camera?: string[]; gate?: string[]; json?: boolean }) => {
      // The token comes from the environment, never from argv (visible in `ps`) or the URL.
      const token = process.env.FACEGATE_TOKEN;
      if (!token) throw new Error('set FACEGATE_TOKEN to an API token (a viewer token is enough)');
      const { promise, controller } = untilSignal();
      const filter = { ...(o.type ? { types: o.type } : {}), ...(o.camera ? { cameras: o.camera } : {}), ...(o.gate ? { gates: o.gate } : {}) };
      const w = watchEvents({
        url: o.url,
        token,
        since: o.since,
        filter,
        signal: controller.signal,
        onEvent: (e) => process.stdout.write(`${o.json ? JSON.stringify(e) : formatEvent(e)}\n`),
        onStatus: (s) => process.stderr.write(`[${s.state}${s.detail ? `: ${s.detail}` : ''}]\n`),
      });
      await promise;
      w.close();
    });
}

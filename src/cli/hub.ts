/**
 * `facegate hub --config FILE`: the fleet hub (src/fleet/hub.ts). The config is a facegate config
 * with `fleet:` (nodeId, site, nats, hub.postgres) and the usual server / auth / logging sections;
 * cameras and gates are the edges' business and are ignored here.
 */
import { Option, type Command } from 'commander';
import { configWarnings, loadConfig } from '../config/index.ts';
import { FleetError } from '../fleet/errors.ts';
import { startHub } from '../hub/hub.ts';
import { hubStoreFor, localActor, removeAtHub, runHubEnroll } from '../hub/enroll.ts';
import { eraseFromCli } from '../hub/erasure.ts';
import { openSnapshotFolder } from '../hub/hub-api.ts';
import { runFleetDemo } from '../demo/fleet-demo.ts';
import { createLogger } from '../log.ts';
import { nonNegativeInt } from './common.ts';

export function registerHubCommand(program: Command): void {
  registerHubIdentitiesCommand(program);
  program
    .command('hub')
    .description('run the fleet hub: events of every edge from NATS JetStream into PostgreSQL, node status, the gallery for all edges, and the HTTP API + WebSocket across all nodes')
    .requiredOption('-c, --config <file>', 'YAML config with a fleet: section (fleet.hub.postgres for the database)')
    .option('--port <port>', 'override server.port (0 = any free port)', nonNegativeInt('--port'))
    .action(async (o: { config: string; port?: number }) => {
      const config = loadConfig(o.config);
      if (!config.fleet) throw new FleetError('FLEET_CONFIG_INVALID', `${o.config} has no fleet: section`, { hint: 'add fleet: { nodeId, site, nats: { servers, ... }, hub: { postgres: { ... } } } (see config/default.yaml)' });
      const log = createLogger({ level: config.logging.level });
      for (const w of configWarnings(config)) log.warn({ config: o.config }, w);
      // Signals are ours from the first moment: a SIGTERM during start-up stops the hub as soon as
      // it is up (or failed); a second one, or a close that hangs, exits at once.
      let stopRequested = false;
      let onStop: (() => void) | undefined;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (stopRequested) {
          log.warn({ signal }, 'second signal while stopping: exiting now');
          process.exit(1);
        }
        stopRequested = true;
        onStop?.();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let hub: Awaited<ReturnType<typeof startHub>>;
      try {
        hub = await startHub(config, { logger: log, port: o.port });
      } catch (e) {
        // startHub stopped whatever it had started; say why in one line and leave.
        await writeErr(`error: ${oneLine(e)}`);
        process.exit(1);
      }
      // One line on stdout for scripts and tests: where the API listens.
      process.stdout.write(`${JSON.stringify({ hub: 'ready', url: hub.api.url, port: hub.api.port })}\n`);
      if (!stopRequested) await new Promise<void>((resolve) => (onStop = resolve));
      log.info('stopping the hub');
      const deadline = setTimeout(() => {
        log.error({ afterMs: CLOSE_DEADLINE_MS }, 'the hub did not stop in time; exiting');
        process.exit(1);
      }, CLOSE_DEADLINE_MS);
      deadline.unref();
      await hub.close();
      process.exit(0);
    });
}

/** How long a stopping hub may take (the consumer's batch, the NATS drain) before it exits anyway. */
const CLOSE_DEADLINE_MS = 15_000;

/** An error as one line: the message, then the fix. */
function oneLine(e: unknown): string {
  const err = e instanceof FleetError ? e : undefined;
  const message = (err?.message ?? (e instanceof Error ? e.message : String(e))).replace(/\s*\n\s*/g, ' ');
  return err?.hint ? `${message} (fix: ${err.hint})` : message;
}

const writeErr = (line: string): Promise<void> => new Promise((r) => process.stderr.write(`${line}\n`, () => r()));

function hubConfig(file: string | undefined): ReturnType<typeof loadConfig> {
  if (!file) throw new FleetError('FLEET_CONFIG_INVALID', '--hub needs the hub\'s config', { hint: 'add --hub-config HUB.yaml (the file `facegate hub` runs with)' });
  const config = loadConfig(file);
  if (!config.fleet?.hub) throw new FleetError('FLEET_CONFIG_INVALID', `${file} has no fleet.hub section`, { hint: 'pass the hub\'s config (fleet.hub.postgres)' });
  return config;
}

const write = (line: string): Promise<void> => new Promise((r) => process.stdout.write(`${line}\n`, () => r()));

/**
 * `facegate enroll --hub --hub-config HUB.yaml --name NAME PHOTO...`: enrollment at the fleet hub
 * (PostgreSQL, then the KV bucket every edge follows) instead of a local gallery. Registered after
 * `enroll`.
 */
export function registerHubEnrollOption(program: Command): void {
  const enroll = program.commands.find((c) => c.name() === 'enroll');
  if (enroll && !enroll.options.some((o) => o.long === '--hub')) {
    enroll.addOption(new Option('--hub', 'enroll at the fleet hub (PostgreSQL + the KV bucket the edges follow) instead of a local gallery'));
    enroll.addOption(new Option('--hub-config <file>', 'the hub\'s config file (with --hub)'));
    enroll.hook('preAction', async (cmd) => {
      const o = cmd.opts<{ hub?: boolean; hubConfig?: string; name: string; group: string[]; json?: boolean }>();
      if (!o.hub) return;
      const config = hubConfig(o.hubConfig);
      const log = createLogger({ level: 'warn' });
      const r = await runHubEnroll(config, { name: o.name, groups: o.group, photos: cmd.args }, log);
      if (o.json) await write(JSON.stringify(r));
      else if (r.identity) await write(`enrolled at the hub: ${r.identity.name} (${r.identity.id}, groups: ${r.identity.groups.join(', ') || '-'}): ${r.identity.templates} templates; the edges follow within seconds`);
      for (const x of r.rejected) process.stderr.write(`rejected ${x.photo}: ${x.message}\n  fix: ${x.hint}\n`);
      if (!r.identity) process.stderr.write(`error: no usable photo; ${o.name} was not enrolled\n`);
      process.exit(r.rejected.length || !r.identity ? 1 : 0);
    });
  }
}

/** `facegate hub-identities list|remove --config HUB.yaml`: the hub's gallery. */
export function registerHubIdentitiesCommand(program: Command): void {
  const ids = program.command('hub-identities').description('the fleet hub\'s gallery (the source of truth the edges follow)');
  ids
    .command('list')
    .requiredOption('-c, --config <file>', 'the hub\'s config file')
    .option('--json', 'JSON lines')
    .action(async (o: { config: string; json?: boolean }) => {
      const store = hubStoreFor(hubConfig(o.config), createLogger({ level: 'warn' }));
      try {
        await store.migrate();
        for (const i of await store.identities()) {
          const row = { id: i.id, name: i.name, groups: i.groups, templates: i.templates.length, updatedMs: i.updatedMs };
          await write(o.json ? JSON.stringify(row) : `${i.id}  ${i.name}  [${i.groups.join(',')}]  ${i.templates.length} templates`);
        }
      } finally {
        await store.close();
      }
    });
  ids
    .command('remove')
    .argument('<idOrName>', 'identity id or exact name')
    .requiredOption('-c, --config <file>', 'the hub\'s config file')
    .action(async (idOrName: string, o: { config: string }) => {
      const store = hubStoreFor(hubConfig(o.config), createLogger({ level: 'warn' }));
      try {
        const id = await removeAtHub(store, idOrName);
        if (!id) throw new FleetError('FLEET_BAD_MESSAGE', `no identity "${idOrName}" at the hub`, { hint: 'see `facegate hub-identities list --config HUB.yaml`' });
        await write(`removed at the hub: ${id}; the edges drop it within seconds`);
      } finally {
        await store.close();
      }
    });
  ids
    .command('erase')
    .description('erase a person fleet-wide (docs/privacy.md): templates, snapshots (hub folder and object store), their name and id in past events at the hub, and on every edge (an offline one when it is back); prints the receipt')
    .argument('<idOrName>', 'identity id or exact name')
    .requiredOption('-c, --config <file>', 'the hub\'s config file')
    .option('--json', 'the receipt as one JSON object')
    .action(async (idOrName: string, o: { config: string; json?: boolean }) => {
      const config = hubConfig(o.config);
      const log = createLogger({ level: 'warn' });
      const store = hubStoreFor(config, log);
      try {
        if (!config.fleet) throw new FleetError('FLEET_CONFIG_INVALID', `${o.config} has no fleet: section`);
        const receipt = await eraseFromCli({ store, snapshots: openSnapshotFolder(config), fleet: config.fleet, log }, idOrName, localActor());
        if (!receipt) throw new FleetError('FLEET_BAD_MESSAGE', `no identity "${idOrName}" at the hub`, { hint: 'see `facegate hub-identities list --config HUB.yaml`' });
        await write(o.json ? JSON.stringify(receipt) : `erased at the hub: ${receipt.erasureId} (${receipt.templates} templates, ${receipt.events} events tombstoned as ${receipt.tombstone}, ${receipt.snapshots} snapshots); the edges replay it from the gallery bucket`);
      } finally {
        await store.close();
      }
    });
}

/**
 * `facegate demo --fleet [--json]`: the fleet demo (src/demo/fleet-demo.ts) instead of the one-box demo.
 * Registered as options + a pre-action on the existing `demo` command (src/cli/run.ts).
 */
export function registerFleetDemoOption(program: Command): void {
  const demo = program.commands.find((c) => c.name() === 'demo');
  if (!demo || demo.options.some((o) => o.long === '--fleet')) return;
  demo.addOption(new Option('--fleet', 'the fleet demo: local nats-server + PostgreSQL, a hub and two edge nodes on the door clip, enrollment at the hub'));
  if (!demo.options.some((o) => o.long === '--json')) demo.addOption(new Option('--json', 'with --fleet: print only the summary, as one JSON object'));
  demo.hook('preAction', async (cmd) => {
    const o = cmd.opts<{ fleet?: boolean; json?: boolean; all?: boolean; port?: number; logLevel?: string }>();
    if (!o.fleet) return;
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const r = await runFleetDemo({ logger: createLogger({ level: o.logLevel ?? 'error' }), json: o.json, all: o.all, port: o.port, signal: controller.signal });
    await new Promise((resolve) => process.stdout.write('', resolve));
    process.exit(r.duplicates === 0 && r.missing === 0 && r.eventsAtHub > 0 ? 0 : 1);
  });
}

/**
 * The fleet options of commands other modules register: `enroll --hub` and `demo --fleet`. Loaded
 * by src/cli/main.ts after those modules (for `enroll` and `demo`, and for help).
 */
export function registerFleetOptions(program: Command): void {
  registerHubEnrollOption(program);
  registerFleetDemoOption(program);
}

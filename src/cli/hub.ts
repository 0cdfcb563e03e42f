/**
 * `facegate hub --config FILE`: the fleet hub (src/fleet/hub.ts). The config is a facegate config
 * with `fleet:` (nodeId, site, nats, hub.postgres) and the usual server / auth / logging sections;
 * cameras and gates are the edges' business and are ignored here.
 */
import type { Command } from 'commander';
import { configWarnings, loadConfig } from '../config/index.ts';
import { FleetError } from '../fleet/errors.ts';
import { startHub } from '../fleet/hub.ts';
import { createLogger } from '../log.ts';
import { nonNegativeInt } from './common.ts';

export function registerHubCommand(program: Command): void {
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
      const hub = await startHub(config, { logger: log, port: o.port });
      // One line on stdout for scripts and tests: where the API listens.
      process.stdout.write(`${JSON.stringify({ hub: 'ready', url: hub.api.url, port: hub.api.port })}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      log.info('stopping the hub');
      await hub.close();
      process.exit(0);
    });
}

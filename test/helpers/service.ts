/**
 * The real service in a test, set up the same way each time: a fresh temp folder for its files, an
 * ephemeral port, closed and the folder removed through `t.teardown`. The test still writes the
 * config it checks; only the storage paths and the port are filled in when it leaves them out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startService, type Service, type ServiceOptions } from '../../src/app/service.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';

/** A raw config document as a test writes it (parseConfig validates it). */
type ConfigDoc = Record<string, unknown>;

export interface ServiceRigOptions extends Partial<ServiceOptions> {
  /** Prefix of the temp folder's name (it shows in a failing test's paths). */
  readonly prefix?: string;
  /** The config, given the temp folder (for paths the test names itself, such as a missing clip). */
  readonly config: (dir: string) => ConfigDoc;
}

export interface ServiceRig {
  readonly service: Service;
  /** The temp folder: gallery.sqlite, events.sqlite and snapshots/ unless the config says otherwise. */
  readonly dir: string;
  /** The config the service started with. */
  readonly config: Config;
  /** Parse another document with the same defaults (a hot reload keeps the same stores). */
  parse(doc: ConfigDoc): Config;
}

const record = (v: unknown): ConfigDoc => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as ConfigDoc) : {});

/**
 * `server.port` 0, `gallery.db`, `events.db` and `events.snapshots` in `dir`, each only where the
 * document has none.
 */
export function withServiceDefaults(dir: string, doc: ConfigDoc): ConfigDoc {
  const events = record(doc.events);
  return {
    ...doc,
    server: { port: 0, ...record(doc.server) },
    gallery: { db: join(dir, 'gallery.sqlite'), ...record(doc.gallery) },
    events: { db: join(dir, 'events.sqlite'), snapshots: { dir: join(dir, 'snapshots') }, ...events },
  };
}

/** Start the service for `t`; it is closed (and its folder removed) when `t` ends. */
export async function withService(t: Test, opts: ServiceRigOptions): Promise<ServiceRig> {
  const { prefix = 'fg-service-', config: configFor, ...serviceOpts } = opts;
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let service: Service | undefined;
  t.teardown(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const parse = (doc: ConfigDoc): Config => parseConfig(withServiceDefaults(dir, doc));
  const config = parse(configFor(dir));
  service = await startService(config, { logger: createLogger({ level: 'error' }), port: 0, ...serviceOpts });
  return { service, dir, config, parse };
}

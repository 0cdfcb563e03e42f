/**
 * The hub's PostgreSQL connection settings and how its failures are told apart: an event
 * PostgreSQL refuses for its content (SQLSTATE class 22 / 54, or a body JSON cannot serialise) is a
 * FLEET_BAD_MESSAGE with `context.content`, never "PostgreSQL unavailable": the hub quarantines it
 * in `dead_letters` (reason + raw bytes) instead of retrying it forever.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import type { PostgresConfig } from '../config/fleet.ts';
import { FleetError, messageOf } from '../fleet/errors.ts';

export function postgresClientConfig(cfg: PostgresConfig): pg.PoolConfig {
  let password = cfg.password;
  if (cfg.passwordFile !== undefined) {
    try {
      password = readFileSync(cfg.passwordFile, 'utf8').split(/\r?\n/)[0]?.trim();
    } catch (e) {
      throw new FleetError('FLEET_CONFIG_INVALID', `cannot read fleet.hub.postgres.passwordFile ${cfg.passwordFile}: ${messageOf(e)}`, { context: { path: cfg.passwordFile }, hint: 'check the path and that the service user can read it', cause: e });
    }
  }
  return {
    host: cfg.host,
    port: cfg.port,
    database: cfg.database,
    user: cfg.user,
    password,
    max: cfg.poolSize,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    ...(cfg.ssl ? { ssl: { rejectUnauthorized: cfg.ssl.rejectUnauthorized, ...(cfg.ssl.ca ? { ca: readFileSync(cfg.ssl.ca, 'utf8') } : {}) } } : {}),
  };
}

/**
 * SQLSTATE class 22 (data exception: an untranslatable character, invalid JSON text, a value out of
 * range) is about what was sent, not about the server: the same statement fails every time, so it
 * must never be retried as an outage.
 */
export function isContentSqlState(code: string | undefined): boolean {
  return typeof code === 'string' && code.startsWith('22');
}

/**
 * SQLSTATE class 54 (program limit exceeded: e.g. jsonb nested deeper than the server's stack
 * allows) is a property of the data too.
 */
const isLimitSqlState = (code: string | undefined): boolean => typeof code === 'string' && code.startsWith('54');

/**
 * A FleetError for an event that cannot be stored because of what it holds (PostgreSQL refused
 * the data, or it cannot even be serialised): retrying is useless, quarantine it.
 */
export function isContentError(e: unknown): e is FleetError {
  return e instanceof FleetError && e.code === 'FLEET_BAD_MESSAGE' && e.context.content === true;
}

/** A PostgreSQL failure as a FleetError with a fix (never the password). */
export function classifyPgError(e: unknown, cfg: PostgresConfig): FleetError {
  if (e instanceof FleetError) return e;
  const msg = messageOf(e);
  const where = `${cfg.user}@${cfg.host}:${cfg.port}/${cfg.database}`;
  const code = (e as { code?: string })?.code;
  if (isContentSqlState(code) || isLimitSqlState(code)) return new FleetError('FLEET_BAD_MESSAGE', `PostgreSQL ${where} refused the data (SQLSTATE ${code}: ${msg})`, { context: { where, sqlState: code, content: true }, hint: 'the message content cannot be stored (the hub quarantines such messages in dead_letters); PostgreSQL itself is available', cause: e });
  if (code === '28P01' || code === '28000') return new FleetError('FLEET_POSTGRES_UNAVAILABLE', `PostgreSQL ${where} refused the credentials (${msg})`, { context: { where }, hint: 'check fleet.hub.postgres user and passwordFile (and pg_hba.conf)', cause: e });
  if (code === '3D000') return new FleetError('FLEET_POSTGRES_UNAVAILABLE', `PostgreSQL ${where}: the database does not exist (${msg})`, { context: { where }, hint: `create it: createdb -O ${cfg.user} ${cfg.database}`, cause: e });
  return new FleetError('FLEET_POSTGRES_UNAVAILABLE', `cannot use PostgreSQL ${where} (${msg})`, { context: { where }, hint: 'check that PostgreSQL runs and fleet.hub.postgres host/port; the hub keeps retrying', cause: e });
}

/**
 * The hub's PostgreSQL schema. Migrations are numbered and applied in order inside one
 * transaction, recorded in fleet_schema; a hub started against a newer schema refuses to run.
 */
import type pg from 'pg';
import { FleetError } from '../fleet/errors.ts';

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    hub_id      BIGSERIAL UNIQUE NOT NULL,
    node_id     TEXT NOT NULL,
    event_id    BIGINT NOT NULL,
    site        TEXT NOT NULL,
    type        TEXT NOT NULL,
    time_ms     DOUBLE PRECISION NOT NULL,
    camera_id   TEXT,
    gate_id     TEXT,
    identity_id TEXT,
    body        JSONB NOT NULL,
    received_ms DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (node_id, event_id)
  );
  CREATE INDEX events_time ON events (time_ms);
  CREATE INDEX events_site_node ON events (site, node_id, hub_id);
  CREATE INDEX events_type ON events (type, hub_id);

  CREATE TABLE nodes (
    node_id       TEXT PRIMARY KEY,
    site          TEXT NOT NULL,
    first_seen_ms DOUBLE PRECISION NOT NULL,
    last_seen_ms  DOUBLE PRECISION NOT NULL,
    last_event_id BIGINT NOT NULL DEFAULT 0,
    events        BIGINT NOT NULL DEFAULT 0,
    lag           BIGINT,
    cameras       JSONB NOT NULL DEFAULT '[]',
    version       TEXT
  );

  CREATE TABLE identities (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    groups     JSONB NOT NULL DEFAULT '[]',
    metadata   JSONB NOT NULL DEFAULT '{}',
    created_ms DOUBLE PRECISION NOT NULL,
    updated_ms DOUBLE PRECISION NOT NULL,
    revision   BIGINT
  );
  CREATE TABLE templates (
    id          TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL,
    masked      BOOLEAN NOT NULL,
    dim         INTEGER NOT NULL,
    embedding   BYTEA NOT NULL,
    quality     DOUBLE PRECISION,
    source_photo_sha256 TEXT,
    created_ms  DOUBLE PRECISION NOT NULL
  );
  CREATE INDEX templates_identity ON templates (identity_id);
  -- Removals still to be published to the KV bucket (an identity removed while NATS was down).
  CREATE TABLE gallery_outbox (
    seq         BIGSERIAL PRIMARY KEY,
    identity_id TEXT NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('put', 'delete'))
  );
  `,
  `
  -- Messages PostgreSQL refused for their content (a NUL or a lone surrogate in jsonb, ...):
  -- quarantined so the rest of the fleet's events keep flowing. raw = the message data exactly as
  -- it came (BYTEA keeps what TEXT / JSONB cannot); dedupe = sha256(subject, raw), so a redelivery
  -- is not a second row.
  CREATE TABLE dead_letters (
    id          BIGSERIAL PRIMARY KEY,
    dedupe      TEXT UNIQUE NOT NULL,
    received_ms DOUBLE PRECISION NOT NULL,
    subject     TEXT NOT NULL,
    stream_seq  BIGINT,
    node_id     TEXT,
    site        TEXT,
    event_id    BIGINT,
    msg_id      TEXT,
    headers     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         BYTEA NOT NULL
  );
  CREATE INDEX dead_letters_node ON dead_letters (node_id, event_id);
  `,
  `
  -- The erasure journal (docs/privacy.md): a row before anything is deleted; the plan saved once
  -- (a rerun after a kill completes the same plan); name held only while pending; the receipt
  -- kept. published_ms: the erasure record is in the gallery bucket for the edges.
  CREATE TABLE erasures (
    id           TEXT PRIMARY KEY,
    identity_id  TEXT NOT NULL,
    name         TEXT,
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    plan         JSONB,
    receipt      JSONB,
    started_ms   DOUBLE PRECISION NOT NULL,
    finished_ms  DOUBLE PRECISION,
    published_ms DOUBLE PRECISION
  );
  CREATE INDEX erasures_identity ON erasures (identity_id);
  CREATE INDEX events_identity ON events (identity_id);
  `,
];

/** Advisory lock held while migrating: two hubs starting together do not both apply a migration. */
const MIGRATION_LOCK = 4242010;

/** Apply the missing migrations inside the caller's transaction; returns the schema version. */
export async function migrate(c: pg.PoolClient): Promise<number> {
  await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
  await c.query('CREATE TABLE IF NOT EXISTS fleet_schema (version INTEGER NOT NULL)');
  const r = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM fleet_schema');
  const have = r.rows[0]?.v ?? 0;
  if (have > MIGRATIONS.length) throw new FleetError('FLEET_POSTGRES_UNAVAILABLE', `the hub database has schema version ${have}; this facegate knows ${MIGRATIONS.length}`, { hint: 'run the facegate version that wrote it' });
  for (let v = have; v < MIGRATIONS.length; v++) {
    await c.query(MIGRATIONS[v]);
    await c.query('INSERT INTO fleet_schema (version) VALUES ($1)', [v + 1]);
  }
  return MIGRATIONS.length;
}

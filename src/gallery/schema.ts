import type { Database } from 'better-sqlite3';
import { GalleryError } from './errors.ts';

/**
 * Schema versions, applied in order and recorded in `PRAGMA user_version`. A migration is only
 * ever appended, never edited: a gallery file written by an older facegate upgrades step by step,
 * each step in its own transaction.
 */
const MIGRATIONS: readonly string[] = [
  // 1: identities, templates, unknowns.
  `
  CREATE TABLE identities (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    groups     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(groups) AND json_type(groups) = 'array'),
    metadata   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX identities_by_name ON identities (name);

  CREATE TABLE templates (
    id                  TEXT PRIMARY KEY,
    identity_id         TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    model_id            TEXT NOT NULL CHECK (length(model_id) > 0),
    masked              INTEGER NOT NULL CHECK (masked IN (0, 1)),
    dim                 INTEGER NOT NULL CHECK (dim > 0),
    embedding           BLOB NOT NULL CHECK (length(embedding) = dim * 4),
    source_photo_sha256 TEXT,
    quality             REAL,
    created_at          INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX templates_by_identity ON templates (identity_id);
  CREATE INDEX templates_by_model ON templates (model_id);

  CREATE TABLE unknowns (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    model_id   TEXT NOT NULL CHECK (length(model_id) > 0),
    dim        INTEGER NOT NULL CHECK (dim > 0),
    centroid   BLOB NOT NULL CHECK (length(centroid) = dim * 4),
    count      INTEGER NOT NULL CHECK (count > 0),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX unknowns_by_model ON unknowns (model_id);

  -- What each write touched, so other connections to the file (the CLI while the server runs)
  -- refresh just those identities/unknowns instead of reloading everything. Trimmed to the
  -- newest entries; a reader further behind than that reloads in full.
  CREATE TABLE changes (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('identity', 'unknown')),
    ref  TEXT NOT NULL
  ) STRICT;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Bring the file to SCHEMA_VERSION; refuse files from a newer facegate rather than guess. */
export function migrate(db: Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new GalleryError('GALLERY_SCHEMA_TOO_NEW', `gallery ${path} has schema version ${version}; this facegate knows up to ${SCHEMA_VERSION}`, {
      context: { path, version, supported: SCHEMA_VERSION },
      hint: 'upgrade facegate, or open a copy made before the upgrade',
    });
  }
  for (let v = version; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

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
  // 2: the aligned face crop of every enrollment photo, so the templates can be rebuilt for
  // another embedder (`facegate gallery reembed`) without the photos. Raw RGB (lossless, exactly
  // the pixels the embedder saw at enrollment) plus the synthetic masks that were rendered on it,
  // so a rebuild makes exactly the same set of templates.
  `
  CREATE TABLE crops (
    id                  TEXT PRIMARY KEY,
    identity_id         TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    source_photo_sha256 TEXT NOT NULL CHECK (length(source_photo_sha256) = 64),
    quality             REAL NOT NULL CHECK (quality >= 0),
    width               INTEGER NOT NULL CHECK (width > 0),
    height              INTEGER NOT NULL CHECK (height > 0),
    format              TEXT NOT NULL CHECK (format = 'rgb8'),
    pixels              BLOB NOT NULL CHECK (length(pixels) = width * height * 3),
    masks               TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(masks) AND json_type(masks) = 'array'),
    created_at          INTEGER NOT NULL
  ) STRICT;
  -- One crop per photo and person: enrolling the same photo again stores nothing new.
  CREATE UNIQUE INDEX crops_by_identity_photo ON crops (identity_id, source_photo_sha256);
  `,
  // 3: encryption at rest and consent. Templates, unknowns' centroids and crops may hold either
  // the plain bytes or a per-record envelope (src/privacy: 33 bytes more, an odd count, so the
  // two lengths never collide); `meta.encryption` says which (never mixed: the switch is one
  // transaction). The data keys are stored only wrapped under the operator's key-encryption key,
  // one row per (data key, KEK) so a rotation holds both. The CHECKs of v1/v2 pinned the plain
  // lengths, so the three tables are rebuilt (children only: nothing references them).
  // Consent: what the person agreed to, as JSON (not biometric data: stored in the clear).
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  CREATE TABLE data_keys (
    key_id     INTEGER NOT NULL CHECK (key_id >= 0),
    kek_id     TEXT NOT NULL CHECK (length(kek_id) = 16),
    wrapped    BLOB NOT NULL CHECK (length(wrapped) = 60),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, kek_id)
  ) STRICT;
  ALTER TABLE identities ADD COLUMN consent TEXT CHECK (consent IS NULL OR (json_valid(consent) AND json_type(consent) = 'object'));

  CREATE TABLE templates_v3 (
    id                  TEXT PRIMARY KEY,
    identity_id         TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    model_id            TEXT NOT NULL CHECK (length(model_id) > 0),
    masked              INTEGER NOT NULL CHECK (masked IN (0, 1)),
    dim                 INTEGER NOT NULL CHECK (dim > 0),
    embedding           BLOB NOT NULL CHECK (length(embedding) IN (dim * 4, dim * 4 + 33)),
    source_photo_sha256 TEXT,
    quality             REAL,
    created_at          INTEGER NOT NULL
  ) STRICT;
  INSERT INTO templates_v3 SELECT id, identity_id, model_id, masked, dim, embedding, source_photo_sha256, quality, created_at FROM templates ORDER BY rowid;
  DROP TABLE templates;
  ALTER TABLE templates_v3 RENAME TO templates;
  CREATE INDEX templates_by_identity ON templates (identity_id);
  CREATE INDEX templates_by_model ON templates (model_id);

  CREATE TABLE unknowns_v3 (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    model_id   TEXT NOT NULL CHECK (length(model_id) > 0),
    dim        INTEGER NOT NULL CHECK (dim > 0),
    centroid   BLOB NOT NULL CHECK (length(centroid) IN (dim * 4, dim * 4 + 33)),
    count      INTEGER NOT NULL CHECK (count > 0),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
  ) STRICT;
  INSERT INTO unknowns_v3 SELECT seq, id, model_id, dim, centroid, count, first_seen, last_seen FROM unknowns ORDER BY seq;
  -- unk_<n> numbers are never reused: carry the sequence over.
  UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'unknowns'), 0)) WHERE name = 'unknowns_v3';
  INSERT INTO sqlite_sequence (name, seq) SELECT 'unknowns_v3', seq FROM sqlite_sequence WHERE name = 'unknowns' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'unknowns_v3');
  DROP TABLE unknowns;
  ALTER TABLE unknowns_v3 RENAME TO unknowns;
  CREATE INDEX unknowns_by_model ON unknowns (model_id);

  CREATE TABLE crops_v3 (
    id                  TEXT PRIMARY KEY,
    identity_id         TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    source_photo_sha256 TEXT NOT NULL CHECK (length(source_photo_sha256) = 64),
    quality             REAL NOT NULL CHECK (quality >= 0),
    width               INTEGER NOT NULL CHECK (width > 0),
    height              INTEGER NOT NULL CHECK (height > 0),
    format              TEXT NOT NULL CHECK (format = 'rgb8'),
    pixels              BLOB NOT NULL CHECK (length(pixels) IN (width * height * 3, width * height * 3 + 33)),
    masks               TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(masks) AND json_type(masks) = 'array'),
    created_at          INTEGER NOT NULL
  ) STRICT;
  INSERT INTO crops_v3 SELECT id, identity_id, source_photo_sha256, quality, width, height, format, pixels, masks, created_at FROM crops ORDER BY rowid;
  DROP TABLE crops;
  ALTER TABLE crops_v3 RENAME TO crops;
  CREATE UNIQUE INDEX crops_by_identity_photo ON crops (identity_id, source_photo_sha256);
  `,
  // 4: retention and erasure (docs/privacy.md). `valid_until` (ms, null: no end) is when a
  // visitor's identity is erased by the retention run. `erasures` is the journal of erasures: a
  // row is written before anything is deleted and holds the plan (event and snapshot ids, counts),
  // so a rerun after a kill completes the same erasure with the same receipt. The name is kept
  // only while the erasure is pending (so a rerun by name finds it) and cleared when it finishes;
  // the identity id stays, for the fleet to replay the erasure elsewhere.
  `
  ALTER TABLE identities ADD COLUMN valid_until INTEGER CHECK (valid_until IS NULL OR valid_until >= 0);
  CREATE TABLE erasures (
    id          TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL,
    name        TEXT,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    plan        TEXT CHECK (plan IS NULL OR json_valid(plan)),
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
  ) STRICT;
  CREATE INDEX erasures_by_identity ON erasures (identity_id);
  `,
  // 5: 'not this person' anchors: embeddings of faces that were wrongly matched to an identity
  // (src/gallery/negative-anchors.ts). Biometric data like templates: sealed when the file is
  // encrypted, deleted with the identity. `source` says where the face came from (an event id).
  `
  CREATE TABLE negative_anchors (
    id          TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL CHECK (length(model_id) > 0),
    dim         INTEGER NOT NULL CHECK (dim > 0),
    embedding   BLOB NOT NULL CHECK (length(embedding) IN (dim * 4, dim * 4 + 33)),
    source      TEXT CHECK (source IS NULL OR length(source) <= 200),
    created_at  INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX negative_anchors_by_identity ON negative_anchors (identity_id);
  `,
];

/** The tables a gallery file must hold once migrated (checked at open: a file missing any is not a usable gallery). */
export const REQUIRED_TABLES: readonly string[] = ['identities', 'templates', 'unknowns', 'changes', 'crops', 'meta', 'data_keys', 'erasures', 'negative_anchors'];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Refuse an existing database that is not a gallery, before anything (even the journal mode) is
 * changed in it: see checkSchemaOwner.
 */
export function assertGalleryOwner(db: Database, path: string, existedBefore: boolean): void {
  checkSchemaOwner(path, db.pragma('user_version', { simple: true }) as number, tableNames(db), existedBefore);
}

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
  const missing = REQUIRED_TABLES.filter((t) => !tableNames(db).includes(t));
  if (missing.length) {
    throw new GalleryError('GALLERY_CORRUPT', `gallery ${path} (schema version ${SCHEMA_VERSION}) lacks the table(s) ${missing.join(', ')}`, {
      context: { path, missing: missing.join(',') },
      hint: 'restore the gallery from a backup; a facegate gallery always holds all its tables',
    });
  }
}

function tableNames(db: Database): string[] {
  return db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
}

/**
 * A file facegate did not create must already be a gallery. A database at version 0 is only ours
 * to set up when we just created it: an existing SQLite file without our schema is someone
 * else's database (tables of its own) or an empty shell, and using it would mean a gallery with
 * nobody in it, i.e. everyone denied. Pure: the caller reads the version and table names.
 */
export function checkSchemaOwner(path: string, version: number, tables: readonly string[], existedBefore: boolean): void {
  if (version > 0 || !existedBefore) return;
  if (tables.length > 0) {
    const shown = tables.slice(0, 8).join(', ') + (tables.length > 8 ? `, ... (${tables.length} in all)` : '');
    throw new GalleryError('GALLERY_NOT_A_GALLERY', `${path} is an SQLite database without facegate's tables (it has: ${shown})`, {
      context: { path, tables: tables.length },
      hint: "it is another program's database: point --db (or gallery.db in the config) at the facegate gallery file; facegate will not add its tables to it",
    });
  }
  throw new GalleryError('GALLERY_NOT_A_GALLERY', `${path} is an SQLite database with no tables: not a facegate gallery (it would start with 0 identities and deny everyone)`, {
    context: { path },
    hint: 'point --db (or gallery.db in the config) at the gallery file or restore it from a backup; to start a new, empty gallery on purpose, delete this file first',
  });
}

import type Database from 'better-sqlite3';

/**
 * The SQL of identities, templates, unknowns and the change log (the crops table has its own in
 * crops.ts), prepared once per connection. SQL and row shapes only: the callers wrap every write
 * in the store's transactions and keep memory in step.
 */

export interface IdentityRow {
  id: string;
  name: string;
  groups: string;
  metadata: string;
  created_at: number;
  updated_at: number;
  consent: string | null;
  valid_until: number | null;
}

export interface TemplateRow {
  id: string;
  identity_id: string;
  model_id: string;
  masked: number;
  dim: number;
  source_photo_sha256: string | null;
  quality: number | null;
  created_at: number;
}

export interface AnchorRow {
  id: string;
  identity_id: string;
  model_id: string;
  dim: number;
  embedding: Buffer;
  source: string | null;
  created_at: number;
}

export interface UnknownRow {
  id: string;
  model_id: string;
  dim: number;
  centroid: Buffer;
  count: number;
  first_seen: number;
  last_seen: number;
}

export function prepareStatements(db: Database.Database) {
  return {
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    insertIdentity: db.prepare('INSERT INTO identities (id, name, groups, metadata, created_at, updated_at, consent) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    insertTemplate: db.prepare('INSERT INTO templates (id, identity_id, model_id, masked, dim, embedding, source_photo_sha256, quality, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    identity: db.prepare<[string], IdentityRow>('SELECT id, name, groups, metadata, created_at, updated_at, consent, valid_until FROM identities WHERE id = ?'),
    identities: db.prepare<[], IdentityRow>('SELECT id, name, groups, metadata, created_at, updated_at, consent, valid_until FROM identities ORDER BY name, id'),
    byName: db.prepare<[string], IdentityRow>('SELECT id, name, groups, metadata, created_at, updated_at, consent, valid_until FROM identities WHERE name = ? ORDER BY created_at, rowid'),
    byNameNoCase: db.prepare<[string], IdentityRow>('SELECT id, name, groups, metadata, created_at, updated_at, consent, valid_until FROM identities WHERE name = ? COLLATE NOCASE ORDER BY created_at, rowid'),
    countsOf: db.prepare<[string], { model_id: string; masked: number; n: number }>('SELECT model_id, masked, count(*) AS n FROM templates WHERE identity_id = ? GROUP BY model_id, masked ORDER BY model_id, masked'),
    allCounts: db.prepare<[], { identity_id: string; model_id: string; masked: number; n: number }>('SELECT identity_id, model_id, masked, count(*) AS n FROM templates GROUP BY identity_id, model_id, masked ORDER BY model_id, masked'),
    templatesOf: db.prepare<[string], TemplateRow>('SELECT id, identity_id, model_id, masked, dim, source_photo_sha256, quality, created_at FROM templates WHERE identity_id = ? ORDER BY created_at, rowid'),
    template: db.prepare<[string], TemplateRow & { embedding: Buffer }>('SELECT id, identity_id, model_id, masked, dim, embedding, source_photo_sha256, quality, created_at FROM templates WHERE id = ?'),
    templateIdsOf: db.prepare<[string], string>('SELECT id FROM templates WHERE identity_id = ?').pluck(),
    allTemplates: db.prepare<[], [id: string, identityId: string, modelId: string, masked: number, dim: number, embedding: Buffer]>('SELECT id, identity_id, model_id, masked, dim, embedding FROM templates ORDER BY rowid').raw(),
    templateSpaces: db.prepare<[], { model_id: string; masked: number; dim: number; n: number }>('SELECT model_id, masked, max(dim) AS dim, count(*) AS n FROM templates GROUP BY model_id, masked'),
    allIdentityEntries: db.prepare<[], { id: string; name: string; groups: string }>('SELECT id, name, groups FROM identities ORDER BY rowid'),
    rename: db.prepare('UPDATE identities SET name = ?, updated_at = ? WHERE id = ?'),
    setGroups: db.prepare('UPDATE identities SET groups = ?, updated_at = ? WHERE id = ?'),
    setMetadata: db.prepare('UPDATE identities SET metadata = ?, updated_at = ? WHERE id = ?'),
    touch: db.prepare('UPDATE identities SET updated_at = ? WHERE id = ?'),
    setConsent: db.prepare('UPDATE identities SET consent = ?, updated_at = ? WHERE id = ?'),
    setValidUntil: db.prepare('UPDATE identities SET valid_until = ?, updated_at = ? WHERE id = ?'),
    removeIdentity: db.prepare('DELETE FROM identities WHERE id = ?'),
    removeTemplate: db.prepare('DELETE FROM templates WHERE id = ?'),
    reembed: db.prepare<[string], { id: string; name: string; models: string }>(
      `SELECT i.id AS id, i.name AS name, json_group_array(DISTINCT t.model_id) AS models
         FROM identities i JOIN templates t ON t.identity_id = i.id
        GROUP BY i.id HAVING sum(t.model_id = ?) = 0 ORDER BY i.name, i.id`,
    ),
    newestChange: db.prepare<[], number | null>('SELECT max(seq) FROM changes').pluck(),
    oldestChange: db.prepare<[], number | null>('SELECT min(seq) FROM changes').pluck(),
    changesSince: db.prepare<[number], { seq: number; kind: 'identity' | 'unknown'; ref: string }>('SELECT seq, kind, ref FROM changes WHERE seq > ? ORDER BY seq'),
    insertChange: db.prepare<[string, string]>('INSERT INTO changes (kind, ref) VALUES (?, ?)'),
    trimChanges: db.prepare<[number]>('DELETE FROM changes WHERE seq <= ?'),
    identityEntry: db.prepare<[string], { id: string; name: string; groups: string }>('SELECT id, name, groups FROM identities WHERE id = ?'),
    templateRowsOf: db.prepare<[string], { id: string; model_id: string; masked: number; dim: number; embedding: Buffer }>('SELECT id, model_id, masked, dim, embedding FROM templates WHERE identity_id = ? ORDER BY rowid'),
    unknownSeq: db.prepare<[], number>("SELECT seq FROM sqlite_sequence WHERE name = 'unknowns'").pluck(),
    insertUnknown: db.prepare('INSERT INTO unknowns (id, model_id, dim, centroid, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    updateUnknown: db.prepare('UPDATE unknowns SET centroid = ?, count = ?, first_seen = ?, last_seen = ? WHERE id = ?'),
    unknown: db.prepare<[string], UnknownRow>('SELECT id, model_id, dim, centroid, count, first_seen, last_seen FROM unknowns WHERE id = ?'),
    allUnknowns: db.prepare<[], UnknownRow>('SELECT id, model_id, dim, centroid, count, first_seen, last_seen FROM unknowns ORDER BY seq'),
    removeUnknown: db.prepare('DELETE FROM unknowns WHERE id = ?'),
    staleUnknowns: db.prepare<[number], string>('SELECT id FROM unknowns WHERE last_seen < ?').pluck(),
    anchorRowsOf: db.prepare<[string], AnchorRow>('SELECT id, identity_id, model_id, dim, embedding, source, created_at FROM negative_anchors WHERE identity_id = ? ORDER BY rowid'),
    allAnchors: db.prepare<[], AnchorRow>('SELECT id, identity_id, model_id, dim, embedding, source, created_at FROM negative_anchors ORDER BY rowid'),
    insertAnchor: db.prepare<[string, string, string, number, Buffer, string | null, number]>('INSERT INTO negative_anchors (id, identity_id, model_id, dim, embedding, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    trimAnchors: db.prepare<[string, string, string, string, number]>(
      'DELETE FROM negative_anchors WHERE identity_id = ? AND model_id = ? AND id NOT IN (SELECT id FROM negative_anchors WHERE identity_id = ? AND model_id = ? ORDER BY rowid DESC LIMIT ?)',
    ),
    counts: db.prepare<[], { identities: number; templates: number; unknowns: number }>(
      'SELECT (SELECT count(*) FROM identities) AS identities, (SELECT count(*) FROM templates) AS templates, (SELECT count(*) FROM unknowns) AS unknowns',
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

import type Database from 'better-sqlite3';
import type { RgbImage } from '../types.ts';
import { GalleryError } from './errors.ts';
import type { CropCoverage, StoredCrop, SyntheticMask } from './types.ts';
import type { CleanCrop } from './validate.ts';

/**
 * The crops table (schema v2): the aligned face crop of each enrollment photo, stored as raw RGB
 * so templates can be rebuilt for another embedder. SQL and row mapping only; the Gallery wraps
 * every write in its transactions and keeps memory in step.
 */

interface CropRow {
  id: string;
  identity_id: string;
  source_photo_sha256: string;
  quality: number;
  width: number;
  height: number;
  masks: string;
  created_at: number;
}

const COLUMNS = 'id, identity_id, source_photo_sha256, quality, width, height, masks, created_at';

// `+model_id` keeps SQLite on templates_by_identity (a handful of rows per person) instead of
// templates_by_model, which it otherwise picks and which grows with every template a re-embedding
// inserts (re-embedding a large gallery went from about a second to most of a minute).

export function prepareCropStatements(db: Database.Database) {
  return {
    // INSERT OR IGNORE: the same photo enrolled again for the same person keeps its first crop.
    insert: db.prepare<[string, string, string, number, number, number, Buffer, string, number]>(
      "INSERT OR IGNORE INTO crops (id, identity_id, source_photo_sha256, quality, width, height, format, pixels, masks, created_at) VALUES (?, ?, ?, ?, ?, ?, 'rgb8', ?, ?, ?)",
    ),
    all: db.prepare<[], CropRow>(`SELECT ${COLUMNS} FROM crops ORDER BY identity_id, created_at, rowid`),
    ofIdentity: db.prepare<[string], CropRow>(`SELECT ${COLUMNS} FROM crops WHERE identity_id = ? ORDER BY created_at, rowid`),
    byId: db.prepare<[string], CropRow>(`SELECT ${COLUMNS} FROM crops WHERE id = ?`),
    pixels: db.prepare<[string], { width: number; height: number; pixels: Buffer }>('SELECT width, height, pixels FROM crops WHERE id = ?'),
    count: db.prepare<[], number>('SELECT count(*) FROM crops').pluck(),
    identitiesWithCrops: db.prepare<[], number>('SELECT count(DISTINCT identity_id) FROM crops').pluck(),
    identitiesWithout: db.prepare<[], { id: string; name: string }>('SELECT id, name FROM identities i WHERE NOT EXISTS (SELECT 1 FROM crops c WHERE c.identity_id = i.id) ORDER BY name, id'),
    /** Crops whose photo has no template of the model yet (what a switch to that model must embed). */
    lackingModel: db.prepare<[string], CropRow>(
      `SELECT ${COLUMNS.split(', ').map((c) => `c.${c}`).join(', ')} FROM crops c
        WHERE NOT EXISTS (SELECT 1 FROM templates t WHERE t.identity_id = c.identity_id AND +t.model_id = ? AND t.source_photo_sha256 = c.source_photo_sha256)
        ORDER BY c.identity_id, c.created_at, c.rowid`,
    ),
    removeModelTemplatesOfPhoto: db.prepare<[string, string, string]>('DELETE FROM templates WHERE identity_id = ? AND +model_id = ? AND source_photo_sha256 = ?'),
    /** Identities with no crop and no template of the model: only enrolling them again helps. */
    strandedFor: db.prepare<[string], { id: string; name: string }>(
      `SELECT id, name FROM identities i
        WHERE NOT EXISTS (SELECT 1 FROM crops c WHERE c.identity_id = i.id)
          AND NOT EXISTS (SELECT 1 FROM templates t WHERE t.identity_id = i.id AND +t.model_id = ?)
        ORDER BY name, id`,
    ),
    identitiesWithModel: db.prepare<[string], string>('SELECT DISTINCT identity_id FROM templates WHERE model_id = ?').pluck(),
    otherModelTemplatesOf: db.prepare<[string, string], string>('SELECT id FROM templates WHERE identity_id = ? AND model_id <> ?').pluck(),
    identitiesLackingModel: db.prepare<[string], { id: string; name: string }>(
      'SELECT id, name FROM identities i WHERE NOT EXISTS (SELECT 1 FROM templates t WHERE t.identity_id = i.id AND +t.model_id = ?) ORDER BY name, id',
    ),
  };
}

export type CropStatements = ReturnType<typeof prepareCropStatements>;

/** What the crop functions need of the store (structural: store.ts imports this file). */
export interface CropStore {
  readonly cropStmt: CropStatements;
  sealCrop(id: string, pixels: Uint8Array): Buffer;
  cropPixels(id: string, blob: Buffer): Buffer;
}

export function insertCrops(store: CropStore, identityId: string, crops: readonly CleanCrop[], createdAt: number, newId: () => string): void {
  for (const c of crops) {
    const id = newId();
    store.cropStmt.insert.run(id, identityId, c.sourcePhotoSha256, c.quality, c.width, c.height, store.sealCrop(id, c.pixels), JSON.stringify(c.masks), createdAt);
  }
}

export function cropFromRow(r: CropRow): StoredCrop {
  let masks: SyntheticMask[];
  try {
    masks = JSON.parse(r.masks) as SyntheticMask[];
  } catch (e) {
    throw new GalleryError('GALLERY_CORRUPT', `masks of crop ${r.id} are not valid JSON`, { cause: e, hint: 'restore the gallery from a backup' });
  }
  return { id: r.id, identityId: r.identity_id, sourcePhotoSha256: r.source_photo_sha256, quality: r.quality, width: r.width, height: r.height, masks, createdAt: r.created_at };
}

export function cropImage(store: CropStore, cropId: string): RgbImage {
  const found = typeof cropId === 'string' ? store.cropStmt.pixels.get(cropId) : undefined;
  if (!found) throw new GalleryError('GALLERY_NOT_FOUND', `no crop with id ${JSON.stringify(cropId)}`, { hint: 'the identity may have been removed meanwhile' });
  const row = { ...found, pixels: store.cropPixels(cropId, found.pixels) };
  if (row.pixels.byteLength !== row.width * row.height * 3) throw new GalleryError('GALLERY_CORRUPT', `crop ${cropId}: ${row.pixels.byteLength} bytes for ${row.width}x${row.height} RGB`, { hint: 'restore the gallery from a backup' });
  // A copy: better-sqlite3 may reuse the buffer, and callers keep the image across awaits.
  return { data: new Uint8Array(row.pixels), width: row.width, height: row.height };
}

export function cropCoverage(stmt: CropStatements): CropCoverage {
  return {
    crops: stmt.count.get() ?? 0,
    identitiesWithCrops: stmt.identitiesWithCrops.get() ?? 0,
    identitiesWithoutCrops: stmt.identitiesWithout.all().map((r) => ({ identityId: r.id, name: r.name })),
  };
}

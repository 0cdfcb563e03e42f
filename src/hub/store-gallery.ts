/**
 * The fleet's gallery in PostgreSQL, its source of truth: identities and templates (with their
 * model id), each change with a row in the gallery outbox (what the hub still has to publish to
 * the KV bucket) and a NOTIFY at commit, so the hub publishes at once whichever process wrote it.
 */
import pg from 'pg';
import type { Logger } from '../log.ts';
import { messageOf } from '../fleet/errors.ts';
import type { StoredIdentity, StoredTemplate } from '../fleet/gallery-kv.ts';
import { prepareAudit, type HubAudit, type PreparedAudit } from './audit.ts';
import { postgresClientConfig } from './postgres.ts';
import type { HubDb, InsertedEvent } from './store-db.ts';

/** NOTIFY channel: the gallery outbox has new rows. */
export const GALLERY_CHANNEL = 'facegate_gallery';

const toBytes = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const fromBytes = (b: Buffer, dim: number): Float32Array => {
  const copy = new Float32Array(dim);
  new Uint8Array(copy.buffer).set(b.subarray(0, dim * 4));
  return copy;
};

/** A gallery write: with an audit event, in the events' serialised transactions. */
function galleryTx<T>(db: HubDb, audit: PreparedAudit | undefined, fn: (c: pg.PoolClient, added: InsertedEvent[]) => Promise<T>): Promise<T> {
  return audit ? db.eventsTx(fn) : db.tx((c) => fn(c, []));
}

/** Insert or replace an identity with all its templates, in one transaction (with its audit event, when given). */
export async function putIdentity(db: HubDb, i: StoredIdentity, audit?: HubAudit): Promise<void> {
  const a = audit && prepareAudit(audit);
  await galleryTx(db, a, async (c, added) => {
    await c.query(
      `INSERT INTO identities (id, name, groups, metadata, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, groups = EXCLUDED.groups, metadata = EXCLUDED.metadata, updated_ms = EXCLUDED.updated_ms`,
      [i.id, i.name, JSON.stringify(i.groups), JSON.stringify(i.metadata), i.createdMs, i.updatedMs],
    );
    await c.query('DELETE FROM templates WHERE identity_id = $1', [i.id]);
    for (const t of i.templates) {
      await c.query('INSERT INTO templates (id, identity_id, model_id, masked, dim, embedding, quality, source_photo_sha256, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [t.id, i.id, t.modelId, t.masked, t.embedding.length, toBytes(t.embedding), t.quality, t.sourcePhotoSha256, i.updatedMs]);
    }
    await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'put')", [i.id]);
    // Delivered at COMMIT: the hub's listener publishes at once (any process may write here).
    await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, i.id]);
    if (a) await db.insertAudit(c, a, added, Date.now());
  });
}

/** Rename and/or regroup (templates unchanged); false when there is no such identity (and no audit event). */
export async function updateIdentity(db: HubDb, id: string, changes: { readonly name?: string; readonly groups?: readonly string[] }, nowMs = Date.now(), audit?: HubAudit): Promise<boolean> {
  const a = audit && prepareAudit(audit);
  return galleryTx(db, a, async (c, added) => {
    const r = await c.query('UPDATE identities SET name = COALESCE($2, name), groups = COALESCE($3::jsonb, groups), updated_ms = $4 WHERE id = $1', [id, changes.name ?? null, changes.groups ? JSON.stringify(changes.groups) : null, nowMs]);
    if ((r.rowCount ?? 0) === 0) return false;
    await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'put')", [id]);
    await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, id]);
    if (a) await db.insertAudit(c, a, added, Date.now());
    return true;
  });
}

/**
 * Add templates to an identity (name and groups untouched, so a rename not yet written is not
 * undone); false when there is no such identity (and no audit event).
 */
export async function addTemplates(db: HubDb, id: string, templates: readonly StoredTemplate[], nowMs = Date.now(), audit?: HubAudit): Promise<boolean> {
  const a = audit && prepareAudit(audit);
  return galleryTx(db, a, async (c, added) => {
    const r = await c.query('UPDATE identities SET updated_ms = $2 WHERE id = $1', [id, nowMs]);
    if ((r.rowCount ?? 0) === 0) return false;
    for (const t of templates) {
      await c.query('INSERT INTO templates (id, identity_id, model_id, masked, dim, embedding, quality, source_photo_sha256, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [t.id, id, t.modelId, t.masked, t.embedding.length, toBytes(t.embedding), t.quality, t.sourcePhotoSha256, nowMs]);
    }
    await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'put')", [id]);
    await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, id]);
    if (a) await db.insertAudit(c, a, added, Date.now());
    return true;
  });
}

/** Remove an identity; false when there was none (and no audit event). */
export async function removeIdentity(db: HubDb, id: string, audit?: HubAudit): Promise<boolean> {
  const a = audit && prepareAudit(audit);
  return galleryTx(db, a, async (c, added) => {
    const r = await c.query('DELETE FROM identities WHERE id = $1', [id]);
    if ((r.rowCount ?? 0) === 0) return false;
    await c.query("INSERT INTO gallery_outbox (identity_id, op) VALUES ($1, 'delete')", [id]);
    await c.query('SELECT pg_notify($1, $2)', [GALLERY_CHANNEL, id]);
    if (a) await db.insertAudit(c, a, added, Date.now());
    return true;
  });
}

export async function getIdentity(db: HubDb, id: string): Promise<StoredIdentity | undefined> {
  return (await identities(db, [id]))[0];
}

/** Identities with their templates (all, or the given ids). */
export async function identities(db: HubDb, ids?: readonly string[]): Promise<StoredIdentity[]> {
  const rows = ids === undefined ? await db.q<{ id: string; name: string; groups: string[]; metadata: Record<string, unknown>; created_ms: number; updated_ms: number }>('SELECT * FROM identities ORDER BY name, id') : await db.q<{ id: string; name: string; groups: string[]; metadata: Record<string, unknown>; created_ms: number; updated_ms: number }>('SELECT * FROM identities WHERE id = ANY($1) ORDER BY name, id', [ids]);
  if (rows.rows.length === 0) return [];
  const tpl = await db.q<{ id: string; identity_id: string; model_id: string; masked: boolean; dim: number; embedding: Buffer; quality: number | null; source_photo_sha256: string | null }>('SELECT * FROM templates WHERE identity_id = ANY($1) ORDER BY created_ms, id', [rows.rows.map((r) => r.id)]);
  const by = new Map<string, StoredTemplate[]>();
  for (const t of tpl.rows) {
    const list = by.get(t.identity_id) ?? [];
    list.push({ id: t.id, modelId: t.model_id, masked: t.masked, embedding: fromBytes(t.embedding, t.dim), quality: t.quality, sourcePhotoSha256: t.source_photo_sha256 });
    by.set(t.identity_id, list);
  }
  return rows.rows.map((r) => ({ id: r.id, name: r.name, groups: r.groups, metadata: r.metadata, createdMs: r.created_ms, updatedMs: r.updated_ms, templates: by.get(r.id) ?? [] }));
}

/** Every identity id (the gallery bucket must hold exactly these). */
export async function identityIds(db: HubDb): Promise<string[]> {
  const r = await db.q<{ id: string }>('SELECT id FROM identities ORDER BY id');
  return r.rows.map((x) => x.id);
}

/** Gallery changes not yet published to the KV bucket, oldest first. */
export async function pendingGallery(db: HubDb, limit = 500): Promise<{ seq: number; identityId: string; op: 'put' | 'delete' }[]> {
  const r = await db.q<{ seq: string; identity_id: string; op: 'put' | 'delete' }>('SELECT seq, identity_id, op FROM gallery_outbox ORDER BY seq LIMIT $1', [limit]);
  return r.rows.map((x) => ({ seq: Number(x.seq), identityId: x.identity_id, op: x.op }));
}

export async function galleryPublished(db: HubDb, seqUpTo: number): Promise<void> {
  await db.q('DELETE FROM gallery_outbox WHERE seq <= $1', [seqUpTo]);
}

/** Identities without their templates (a count instead): all, or the given ids. */
export async function identitySummaries(db: HubDb, ids?: readonly string[]): Promise<{ id: string; name: string; groups: string[]; metadata: Record<string, unknown>; createdMs: number; updatedMs: number; templates: number }[]> {
  const sql = `SELECT i.id, i.name, i.groups, i.metadata, i.created_ms, i.updated_ms, count(t.id) AS n
                 FROM identities i LEFT JOIN templates t ON t.identity_id = i.id
                ${ids === undefined ? '' : 'WHERE i.id = ANY($1)'} GROUP BY i.id ORDER BY i.name, i.id`;
  const r = await db.q<{ id: string; name: string; groups: string[]; metadata: Record<string, unknown>; created_ms: number; updated_ms: number; n: string }>(sql, ids === undefined ? [] : [ids]);
  return r.rows.map((x) => ({ id: x.id, name: x.name, groups: x.groups, metadata: x.metadata, createdMs: x.created_ms, updatedMs: x.updated_ms, templates: Number(x.n) }));
}

/** Find identities by exact name (the CLI adds templates to an existing one). */
export async function identityIdsByName(db: HubDb, name: string): Promise<string[]> {
  const r = await db.q<{ id: string }>('SELECT id FROM identities WHERE name = $1 ORDER BY created_ms, id', [name]);
  return r.rows.map((x) => x.id);
}


/**
 * LISTEN for gallery changes on a client of its own; `onNotify(identityId)` runs for each (the
 * payload is the identity that changed). Reconnects with `retryMs` when the connection is lost,
 * and calls onNotify(undefined) then: "anything may have changed".
 */
export function listenGallery(db: HubDb, onNotify: (identityId: string | undefined) => void, retryMs: number, logger: Logger): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client(postgresClientConfig(db.cfg));
    c.on('error', () => undefined);
    c.on('end', () => {
      if (client === c) client = undefined;
      schedule();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${GALLERY_CHANNEL}`);
      c.on('notification', (n) => onNotify(n.payload || undefined));
      client = c;
      onNotify(undefined);
    } catch (e) {
      logger.debug({ detail: messageOf(e) }, 'fleet hub: gallery LISTEN not ready; retrying');
      await c.end().catch(() => undefined);
      schedule();
    }
  };
  const schedule = (): void => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), retryMs);
    timer.unref();
  };
  void connect();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await client?.end().catch(() => undefined);
  };
}

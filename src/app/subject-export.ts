/**
 * Subject-access export (GDPR Art. 15; docs/privacy.md): what the box holds about one person, as
 * one ZIP of JSON and JPEG, decrypted. profile.json (identity, groups, metadata, consent,
 * validUntil, template list without the embeddings), crops/<id>.jpg (the aligned enrollment
 * crops), events.json (the events about them: the same selection as an erasure), and
 * snapshots/<id>.face.jpg / .frame.jpg (the snapshots those events name that still exist).
 */
import type { EventLog, SnapshotStore } from '../events/index.ts';
import type { Gallery } from '../gallery/index.ts';
import { zipStore, type ZipEntry } from '../privacy/index.ts';
import { clustersOf, snapshotIdsOf } from './erasure.ts';
import { loadSharp } from '../image/sharp.ts';

export interface SubjectExport {
  readonly zip: Buffer;
  readonly identityId: string;
  readonly counts: { readonly crops: number; readonly events: number; readonly snapshots: number; readonly templates: number };
}

const json = (v: unknown): Buffer => Buffer.from(`${JSON.stringify(v, null, 2)}\n`);

export async function exportSubject(d: { gallery: Gallery; eventLog: EventLog; snapshots: SnapshotStore; now?: () => number }, query: string): Promise<SubjectExport> {
  const identity = d.gallery.resolve(query);
  const templates = d.gallery.listTemplates(identity.id);
  const own = d.eventLog.about(identity.id);
  const unknownIds = clustersOf(own.filter((e) => e.type === 'identity.created'), d.eventLog.query({ types: ['unknown.merged'], limit: 10_000 }));
  const events = d.eventLog.about(identity.id, { name: identity.name, unknownIds });
  const mtime = new Date((d.now ?? Date.now)());
  const entries: ZipEntry[] = [];
  const crops = d.gallery.listCrops(identity.id);
  for (const c of crops) {
    const img = d.gallery.cropImage(c.id);
    const jpeg = await (await loadSharp())(Buffer.from(img.data.buffer, img.data.byteOffset, img.width * img.height * 3), { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    entries.push({ name: `crops/${c.id}.jpg`, data: jpeg, mtime });
  }
  let snapshots = 0;
  for (const id of snapshotIdsOf(events)) {
    let any = false;
    for (const kind of ['face', 'frame'] as const) {
      const bytes = await d.snapshots.read(id, kind).catch(() => undefined);
      if (!bytes) continue;
      entries.push({ name: `snapshots/${id}.${kind}.jpg`, data: bytes, mtime });
      any = true;
    }
    if (any) snapshots++;
  }
  const profile = {
    exportedAt: mtime.toISOString(),
    identity: {
      id: identity.id,
      name: identity.name,
      groups: identity.groups,
      metadata: identity.metadata,
      createdAt: new Date(identity.createdAt).toISOString(),
      updatedAt: new Date(identity.updatedAt).toISOString(),
      validUntil: identity.validUntil === undefined ? null : new Date(identity.validUntil).toISOString(),
    },
    consent: identity.consent ?? null,
    templates: templates.map((t) => ({ id: t.id, modelId: t.modelId, masked: t.masked, dim: t.dim, quality: t.quality, sourcePhotoSha256: t.sourcePhotoSha256, createdAt: new Date(t.createdAt).toISOString() })),
    templatesNote: crops.length
      ? 'face templates are numbers computed from the photos in crops/ (the embeddings themselves are not meaningful to read and are not exported)'
      : 'face templates are numbers computed from the enrollment photos (the embeddings themselves are not meaningful to read and are not exported)',
    unknownClusters: unknownIds,
    negativeAnchors: d.gallery.listNegativeAnchors(identity.id).map((a) => ({ id: a.id, modelId: a.modelId, source: a.source, createdAt: new Date(a.createdAt).toISOString(), note: "a face wrongly matched to this person ('not this person'), kept so it is not matched again" })),
    crops: crops.map((c) => ({ file: `crops/${c.id}.jpg`, sourcePhotoSha256: c.sourcePhotoSha256, quality: c.quality, createdAt: new Date(c.createdAt).toISOString() })),
    // Template-only mode (privacy.keepEnrollmentCrops: false) or crops dropped: say so, not an empty list alone.
    ...(crops.length ? {} : { cropsNote: 'no enrollment photo of this person is stored (template-only mode): only the templates computed from the photos were kept, and the photos were not' }),
  };
  const zip = zipStore([{ name: 'profile.json', data: json(profile), mtime }, { name: 'events.json', data: json(events), mtime }, ...entries]);
  return { zip, identityId: identity.id, counts: { crops: crops.length, events: events.length, snapshots, templates: templates.length } };
}

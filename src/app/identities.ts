/**
 * Identities through the API: enrollment from an uploaded photo (a private temp file whose path
 * never reaches the client) and the IdentityApi the HTTP routes call, where every change is an
 * audit event naming the actor (the token id), logged and published like the pipeline's events.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bodyField, parseConsent } from '../api/consent.ts';
import { HttpError, readJson, sendJson, stringArray, type Route } from '../api/router.ts';
import type { ConsentInput, IdentityApi } from '../api/types.ts';
import { createDetector, type Detector, type DetectorConfig } from '../detect/index.ts';
import type { Event, NewEventOf } from '../events/index.ts';
import { credentialFromMetadata } from '../doors/index.ts';
import type { Consent, Gallery, Metadata } from '../gallery/index.ts';
import type { Logger } from '../log.ts';
import { DEFAULT_ENROLLMENT_RULES, prepareEnrollmentPhoto, type Embedder, type EnrollmentRules, type PhotoVerdict } from '../recognize/index.ts';

/** `text` with a server-side temp path (the file, then its folder) replaced by what the client sent. */
export function withoutPath(text: string, file: string, dir: string, label: string): string {
  return text.split(file).join(label).split(dir).join(label);
}

/** An error about a temp file, retold without the path (same class, code and hint; cause kept for the server). */
function scrubError(e: unknown, file: string, dir: string, label: string): unknown {
  if (!(e instanceof Error) || !(e.message.includes(dir) || String((e as { hint?: unknown }).hint ?? '').includes(dir))) return e;
  const scrubbed = e as Error & { hint?: unknown };
  scrubbed.message = withoutPath(e.message, file, dir, label);
  if (typeof scrubbed.hint === 'string') (scrubbed as { hint: string }).hint = withoutPath(scrubbed.hint, file, dir, label);
  return scrubbed;
}

export interface UploadEnrollment {
  /**
   * Enroll an uploaded photo. The bytes go through a private temp file (the enrollment code reads
   * paths); its path must never reach the client: every message names the upload instead.
   */
  enroll(photo: Buffer): Promise<PhotoVerdict>;
  /**
   * The plain embedding of the largest face in an image without the enrollment quality rules (a
   * camera's face snapshot for a 'not this person' anchor is what recognition saw, not a portrait).
   */
  embedFace?(photo: Buffer): Promise<FaceEmbedding>;
  close(): Promise<void>;
}

export type FaceEmbedding = { readonly ok: true; readonly embedding: Float32Array; readonly modelId: string } | { readonly ok: false; readonly message: string };

/** The enrollment rules from the config's recognition.enrollment section. */
export function enrollmentRulesOf(e: { readonly minEyeDistance: number; readonly maxYaw: number; readonly maxPitch: number; readonly minSharpness: number }): EnrollmentRules {
  return { ...DEFAULT_ENROLLMENT_RULES, minInterOcular: e.minEyeDistance, maxYaw: e.maxYaw, maxPitch: e.maxPitch, minSharpness: e.minSharpness };
}

/** Rules that accept any single face: only detection decides. */
const ANY_FACE: EnrollmentRules = { minInterOcular: 0, minSharpness: 0, secondFaceRatio: 1, maxYaw: Infinity, maxPitch: Infinity };

export function createUploadEnrollment(o: { readonly detectorOptions: Omit<DetectorConfig, 'tier' | 'padRetry'>; readonly embedder: Embedder; readonly rules?: () => EnrollmentRules }): UploadEnrollment {
  let enrollDetector: Detector | undefined;
  // The detector sees at most its input size, so a photo decoded at twice that loses nothing it
  // uses, and a large upload costs a few MB of pixels instead of tens (plus the padded retry's
  // copy). The size checks stay in the photo's own pixels (the decode reports its scale).
  const maxSide = 2 * (o.detectorOptions.size ?? 640);
  const check = async (photo: Buffer, rules: EnrollmentRules): Promise<PhotoVerdict> => {
    // Enrollment photos are often tight crops: the 2.5g tier with the padded retry (src/recognize/enroll.ts).
    enrollDetector ??= await createDetector({ tier: '2.5g', padRetry: true, ...o.detectorOptions });
    const dir = mkdtempSync(join(tmpdir(), 'facegate-upload-'));
    const file = join(dir, 'photo');
    const label = `the uploaded photo (${photo.length} bytes)`;
    try {
      writeFileSync(file, photo);
      const detector = enrollDetector;
      const v = await prepareEnrollmentPhoto(file, detector, o.embedder, rules, { maxSide });
      return v.ok ? v : { ...v, photo: label, message: withoutPath(v.message, file, dir, label), hint: withoutPath(v.hint, file, dir, label), ...(v.checks ? { checks: v.checks.map((c) => ({ ...c, message: withoutPath(c.message, file, dir, label) })) } : {}) };
    } catch (e) {
      throw scrubError(e, file, dir, label);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return {
    enroll: (photo) => check(photo, o.rules?.() ?? DEFAULT_ENROLLMENT_RULES),
    embedFace: async (photo) => {
      const v = await check(photo, ANY_FACE);
      if (!v.ok) return { ok: false, message: `${v.message} (${v.hint})` };
      const plain = v.templates.find((t) => !t.masked) ?? v.templates[0];
      return { ok: true, embedding: plain.embedding, modelId: plain.modelId };
    },
    close: async () => {
      await enrollDetector?.close();
    },
  };
}

/** The purpose recorded when the client names none. */
export const DEFAULT_CONSENT_PURPOSE = 'access control';

/** A consent record from what the client stated, stamped with when and by whom. */
export function consentRecord(given: ConsentInput, recordedBy: string, defaultMethod: string, nowMs: number): Consent {
  return { givenAt: nowMs, recordedBy, method: given.method ?? defaultMethod, purpose: given.purpose ?? DEFAULT_CONSENT_PURPOSE, expiresAt: given.expiresAt ?? null, text: given.text };
}

/**
 * privacy.requireConsent (read per call, so a config change applies at once): a new identity
 * without consent is refused before its photo is even decoded; adding photos to an identity is
 * not a new enrollment and stays allowed.
 */
export function requireConsentApi(inner: IdentityApi, required: () => boolean): IdentityApi {
  return {
    ...inner,
    create: async (input, actor) => {
      if (required() && !input.consent) {
        return { ok: false, reason: 'consent-required', message: 'enrollment needs the person\'s consent (privacy.requireConsent): pass consent=TEXT (the notice shown, or the signed form\'s reference) with the photo' };
      }
      return inner.create(input, actor);
    },
  };
}

type AuditEvent = NewEventOf<'identity.created' | 'identity.updated' | 'identity.removed'>;

export function createIdentityApi(o: { readonly gallery: Gallery; readonly enroll: (photo: Buffer) => Promise<PhotoVerdict>; readonly publish: (event: AuditEvent) => Event | void; readonly logger: Logger }): IdentityApi {
  const { gallery, logger: log } = o;
  const enrollPhoto = o.enroll;
  // `checks`: each failed quality check with its measured value, threshold and fix, for the dashboard.
  const rejection = (v: Extract<PhotoVerdict, { ok: false }>) => ({ ok: false, reason: v.reason, message: `${v.message} (${v.hint})`, ...(v.checks ? { checks: v.checks } : {}) });
  // Audit: every change made through the API is an event naming the actor (the token id),
  // logged and published like the pipeline's own events.
  const audit = (event: AuditEvent): void => {
    try {
      o.publish(event);
    } catch (err) {
      // The change is made; a failed audit write must not turn it into an error for the client.
      log.error({ err, type: event.type, identityId: event.identityId }, 'audit event not logged');
    }
  };
  return {
    list: () => gallery.listIdentities(),
    get: (id) => gallery.getIdentity(id),
    create: async ({ name, groups, photo, consent: given }, actor) => {
      const v = await enrollPhoto(photo);
      if (!v.ok) return rejection(v);
      const consent = given ? consentRecord(given, actor, 'api', Date.now()) : undefined;
      const identity = gallery.enroll({ name, groups: [...groups], templates: v.templates, crops: [v.crop], ...(consent ? { consent } : {}) });
      audit({ type: 'identity.created', timeMs: Date.now(), identityId: identity.id, data: { actor, name: identity.name, groups: [...identity.groups], templates: v.templates.length, ...(consent ? { consent } : {}) } });
      return { ok: true, identity };
    },
    update: (id, changes, actor) => {
      // Audit what was applied even when a later part fails (a rename done, then bad groups).
      const applied: { name?: string; groups?: string[]; metadataKeys?: string[] } = {};
      let identityId: string | undefined;
      try {
        if (changes.name !== undefined) {
          const r = gallery.rename(id, changes.name);
          identityId = r.id;
          applied.name = r.name;
        }
        if (changes.groups !== undefined) {
          const r = gallery.setGroups(id, changes.groups);
          identityId = r.id;
          applied.groups = [...r.groups];
        }
        if (changes.metadata !== undefined) {
          const merged: Record<string, unknown> = { ...gallery.requireIdentity(id).metadata };
          for (const [k, v] of Object.entries(changes.metadata)) {
            if (v === null) delete merged[k];
            else merged[k] = v;
          }
          // A card credential is checked when it is written, not at the first grant (docs/doors.md).
          credentialFromMetadata(merged);
          const r = gallery.setMetadata(id, merged as Metadata); // validated there (JSON, size)
          identityId = r.id;
          // The audit names the keys, never their values (a card number is a credential).
          applied.metadataKeys = Object.keys(changes.metadata).sort();
        }
      } finally {
        if (identityId !== undefined) audit({ type: 'identity.updated', timeMs: Date.now(), identityId, data: { actor, ...applied } });
      }
      return gallery.getIdentity(id);
    },
    remove: (id, actor) => {
      const identity = gallery.getIdentity(id);
      if (!identity) return false;
      gallery.remove(id);
      audit({ type: 'identity.removed', timeMs: Date.now(), identityId: identity.id, data: { actor, name: identity.name } });
      return true;
    },
    enrollPhoto: async (id, photo, actor) => {
      const v = await enrollPhoto(photo);
      if (!v.ok) return rejection(v);
      const identity = gallery.addTemplates(id, v.templates, [v.crop]);
      audit({ type: 'identity.updated', timeMs: Date.now(), identityId: identity.id, data: { actor, templatesAdded: v.templates.length } });
      return { ok: true, templates: v.templates.length };
    },
  };
}

export interface NotThisPersonParts {
  readonly gallery: Gallery;
  /** An event from the log by id. */
  readonly event: (id: number) => Event | undefined;
  /** A snapshot's face crop (decrypted); undefined when it is gone (retention, erasure). */
  readonly faceSnapshot: (snapshotId: string) => Promise<Buffer | undefined>;
  readonly embedFace: ((photo: Buffer) => Promise<FaceEmbedding>) | undefined;
  readonly publish: (event: AuditEvent) => Event | void;
  readonly logger: Logger;
}

/**
 * POST /v1/events/:id/not-this-person (operator): the recognition was wrong. The face the event
 * kept (its face snapshot) is embedded again and stored as a negative anchor of the identity it
 * was matched to, so that face (and faces like it) stops matching; audited as identity.updated
 * with negativeAnchorsAdded. Pressing it twice for one event adds nothing the second time.
 */
export function notThisPersonRoutes(p: NotThisPersonParts): Route[] {
  return [
    {
      method: 'POST',
      pattern: ['events', ':id', 'not-this-person'],
      role: 'operator',
      handle: async ({ res }, { id }, who) => {
        const eventId = Number(id);
        if (!/^\d{1,15}$/.test(id) || !Number.isSafeInteger(eventId)) throw new HttpError(400, 'the event id is a positive integer');
        const event = p.event(eventId);
        if (!event) throw new HttpError(404, `no event ${eventId}`);
        if (event.type !== 'face.recognized') throw new HttpError(409, `event ${eventId} is ${event.type}: only a recognition (face.recognized) can be marked 'not this person'`);
        const identity = p.gallery.getIdentity(event.identityId);
        if (!identity) throw new HttpError(409, `the identity of event ${eventId} is no longer in the gallery`);
        const source = `event:${eventId}`;
        const existing = p.gallery.listNegativeAnchors(identity.id);
        if (existing.some((a) => a.source === source)) {
          sendJson(res, 200, { identityId: identity.id, name: identity.name, negativeAnchorsAdded: 0, negativeAnchors: existing.length });
          return;
        }
        const snapshotId = event.data.snapshotId;
        if (!snapshotId) throw new HttpError(409, `event ${eventId} kept no face snapshot (snapshots off, or a masked/erased event): nothing to learn from`);
        if (!p.embedFace) throw new HttpError(409, "'not this person' is not offered here");
        const face = await p.faceSnapshot(snapshotId);
        if (!face) throw new HttpError(409, `the face snapshot of event ${eventId} is gone (retention or erasure)`);
        const e = await p.embedFace(face);
        if (!e.ok) throw new HttpError(422, `no usable face in the snapshot of event ${eventId}: ${e.message}`);
        const anchors = p.gallery.addNegativeAnchors(identity.id, [{ embedding: e.embedding, modelId: e.modelId, source }]);
        try {
          p.publish({ type: 'identity.updated', timeMs: Date.now(), identityId: identity.id, data: { actor: who.id, negativeAnchorsAdded: 1 } });
        } catch (err) {
          p.logger.error({ err, identityId: identity.id }, 'audit event not logged');
        }
        sendJson(res, 201, { identityId: identity.id, name: identity.name, negativeAnchorsAdded: 1, negativeAnchors: anchors.length });
      },
    },
  ];
}

/**
 * POST /v1/events/:id/enroll (admin): enrol the face an event kept (its face snapshot) through the
 * same checked path as an upload (quality checks, look-alike check unless `force`, consent,
 * audit). JSON body: `{"name", "groups"}` for a new identity, or `{"identityId"}` to add the face
 * to one; `force`, and the consent fields of a new identity (`consent`, `consentMethod`, ...).
 */
export function enrollFromEventRoute(p: { readonly event: (id: number) => Event | undefined; readonly faceSnapshot: (snapshotId: string) => Promise<Buffer | undefined>; readonly identities: IdentityApi }): Route {
  return {
    method: 'POST',
    pattern: ['events', ':id', 'enroll'],
    role: 'admin',
    handle: async ({ req, res, maxMessageBytes, decodeTurn }, { id }, who) => {
      const eventId = Number(id);
      if (!/^\d{1,15}$/.test(id) || !Number.isSafeInteger(eventId)) throw new HttpError(400, 'the event id is a positive integer');
      const body = await readJson(req, maxMessageBytes);
      const event = p.event(eventId);
      if (!event) throw new HttpError(404, `no event ${eventId}`);
      const snapshotId = (event.data as { snapshotId?: unknown }).snapshotId;
      if (typeof snapshotId !== 'string') throw new HttpError(409, `event ${eventId} kept no face snapshot`);
      const force = body.force === true;
      if (body.force !== undefined && typeof body.force !== 'boolean') throw new HttpError(400, 'force must be true or false');
      const photo = await p.faceSnapshot(snapshotId);
      if (!photo) throw new HttpError(409, `the face snapshot of event ${eventId} is gone (retention or erasure)`);
      if (body.identityId !== undefined) {
        if (typeof body.identityId !== 'string' || !p.identities.get(body.identityId)) throw new HttpError(404, `no identity ${String(body.identityId)}`);
        const target = body.identityId;
        // Detection and embedding take an upload's turn, like a photo upload.
        const r = await decodeTurn(() => Promise.resolve(photo), (b) => p.identities.enrollPhoto(target, b, who.id, { force }));
        sendJson(res, r.ok ? 201 : 422, r);
        return;
      }
      const name = typeof body.name === 'string' ? body.name.trim() : '';
      if (!name || name.length > 200) throw new HttpError(400, 'name must be a non-empty string of at most 200 characters (or pass identityId)');
      const groups = stringArray(body.groups, 'groups');
      const consent = parseConsent(bodyField(body));
      const r = await decodeTurn(() => Promise.resolve(photo), (b) => p.identities.create({ name, groups, photo: b, ...(consent ? { consent } : {}), ...(force ? { force } : {}) }, who.id));
      sendJson(res, r.ok ? 201 : 422, r);
    },
  };
}

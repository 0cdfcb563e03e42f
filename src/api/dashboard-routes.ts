/**
 * The routes the operator dashboard added to the API (a table for ./router.ts):
 *   GET    /v1/me                               viewer   who this token is (id, role) and the consent policy
 *   GET    /v1/cameras/:id/frame                viewer   latest frame as JPEG (<= 2 fps encode, shared)
 *   GET    /v1/identities/:id/photos            viewer   stored enrollment photos (face crops)
 *   GET    /v1/identities/:id/photos/:photoId   viewer   one of them as JPEG
 *   GET    /v1/unknowns                         viewer   clusters of recurring unknown faces
 *   POST   /v1/unknowns/:id/name                admin    {name, groups?, consent?}: the cluster becomes an identity
 *   POST   /v1/unknowns/:id/merge               admin    {into}: this cluster joins another
 *   DELETE /v1/unknowns/:id                     admin    dismiss a cluster
 *   GET    /v1/system                           viewer   version, models, per-camera and per-stage figures
 */
import type { ServerResponse } from 'node:http';
import { HttpError, readJson, sendJson, stringArray, type Route } from './router.ts';
import type { ApiDeps } from './types.ts';
import { bodyField, parseConsent } from './consent.ts';

const ID = /^[A-Za-z0-9_.-]{1,128}$/;

function sendJpeg(res: ServerResponse, jpeg: Buffer, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(200, { ...headers, 'content-type': 'image/jpeg', 'content-length': jpeg.length, 'cache-control': 'no-store' });
  res.end(jpeg);
}

/** The dashboard's routes (only those whose dependency the service provides). */
export function dashboardRoutes(deps: ApiDeps): Route[] {
  const routes: Route[] = [{ method: 'GET', pattern: ['me'], role: 'viewer', handle: (c, _p, who) => sendJson(c.res, 200, { id: who.id, role: who.role, ...(deps.consentPolicy ? { consent: deps.consentPolicy() } : {}) }) }];
  const live = deps.liveFrames;
  if (live) {
    routes.push({
      method: 'GET',
      pattern: ['cameras', ':id', 'frame'],
      role: 'viewer',
      handle: async (c, p) => {
        const known = deps.cameras?.().some((x) => (x as { id?: unknown }).id === p.id) ?? true;
        if (!known) throw new HttpError(404, `no camera ${p.id}`);
        const r = await live.latest(p.id);
        if (!r.ok) return sendJson(c.res, 503, { error: r.message, reason: r.reason }, { 'retry-after': '1' });
        const f = r.frame;
        sendJpeg(c.res, f.jpeg, { 'x-frame-seq': String(f.seq), 'x-frame-captured-at': String(f.capturedAt), 'x-frame-source-size': `${f.sourceWidth}x${f.sourceHeight}` });
      },
    });
  }
  const photos = deps.photos;
  if (photos) {
    routes.push(
      {
        method: 'GET',
        pattern: ['identities', ':id', 'photos'],
        role: 'viewer',
        handle: (c, p) => {
          const list = photos.list(p.id);
          if (!list) throw new HttpError(404, `no identity ${p.id}`);
          sendJson(c.res, 200, { photos: list });
        },
      },
      {
        method: 'GET',
        pattern: ['identities', ':id', 'photos', ':photo'],
        role: 'viewer',
        handle: async (c, p) => {
          const jpeg = await photos.jpeg(p.id, p.photo);
          if (!jpeg) throw new HttpError(404, `no photo ${p.photo} of identity ${p.id}`);
          sendJpeg(c.res, jpeg, { 'cache-control': 'private, max-age=3600' });
        },
      },
    );
  }
  const unknowns = deps.unknowns;
  if (unknowns) {
    routes.push(
      { method: 'GET', pattern: ['unknowns'], role: 'viewer', handle: (c) => sendJson(c.res, 200, { unknowns: unknowns.list() }) },
      {
        method: 'POST',
        pattern: ['unknowns', ':id', 'name'],
        role: 'admin',
        // Naming enrols the cluster's face snapshots: image decodes, so it takes an upload slot.
        handle: async (c, p, who) => {
          const identity = await c.decodeTurn(
            () => readJson(c.req, c.maxMessageBytes),
            async (body) => {
              const name = typeof body.name === 'string' ? body.name.trim() : '';
              if (!name || name.length > 200) throw new HttpError(400, 'name must be a non-empty string of at most 200 characters');
              const groups = stringArray(body.groups, 'groups');
              if (!unknowns.list().some((u) => u.id === p.id)) throw new HttpError(404, `no unknown ${p.id}`);
              // A named cluster becomes an identity: the same consent rule as an enrollment.
              const consent = parseConsent(bodyField(body));
              if (!consent && deps.consentPolicy?.().required) throw new HttpError(422, "naming needs the person's consent (privacy.requireConsent): send consent (the notice shown, or the signed form's reference) with the name");
              return unknowns.name(p.id, { name, groups, ...(consent ? { consent } : {}) }, who.id);
            },
          );
          sendJson(c.res, 201, { identity });
        },
      },
      {
        method: 'POST',
        pattern: ['unknowns', ':id', 'merge'],
        role: 'admin',
        handle: async (c, p, who) => {
          const body = await readJson(c.req, c.maxMessageBytes);
          if (typeof body.into !== 'string' || !ID.test(body.into)) throw new HttpError(400, 'into must be the id of another unknown (e.g. "unk_3")');
          if (body.into === p.id) throw new HttpError(400, 'a cluster cannot be merged into itself');
          const merged = unknowns.merge(p.id, body.into, who.id);
          if (!merged) throw new HttpError(404, `no unknown ${p.id} or ${body.into}`);
          sendJson(c.res, 200, { unknown: merged });
        },
      },
      {
        method: 'DELETE',
        pattern: ['unknowns', ':id'],
        role: 'admin',
        handle: (c, p, who) => {
          if (!unknowns.dismiss(p.id, who.id)) throw new HttpError(404, `no unknown ${p.id}`);
          sendJson(c.res, 200, { dismissed: p.id });
        },
      },
    );
  }
  const system = deps.system;
  if (system) routes.push({ method: 'GET', pattern: ['system'], role: 'viewer', handle: async (c) => sendJson(c.res, 200, await system()) });
  return routes;
}

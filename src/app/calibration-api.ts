/**
 * The calibration report from the box's own event log (src/recognize/calibration-report.ts):
 * GET /v1/calibration (viewer) for the dashboard's System page, and the reading shared with
 * `facegate report calibration`. Also where the box's 'not this person' route is wired
 * (src/app/identities.ts), so the box registers both with one line.
 */
import { HttpError, sendJson, type Route } from '../api/router.ts';
import type { Config } from '../config/index.ts';
import { isEventsError, MAX_PAGE, type EventLog, type Event } from '../events/index.ts';
import { calibrationReport, type CalibrationReport } from '../recognize/calibration-report.ts';
import type { Logger } from '../log.ts';
import type { IdentityApi } from '../api/types.ts';
import { enrollFromEventRoute, notThisPersonRoutes, type UploadEnrollment } from './identities.ts';
import { recognitionSettings } from './models.ts';
import type { Storage } from './storage.ts';

/** What the routes need of the box (src/app/box-api.ts BoxApiParts). */
export interface CalibrationApiParts extends Pick<Storage, 'gallery' | 'eventLog' | 'snapshots' | 'bus'> {
  readonly config: () => Config;
  readonly log: Logger;
  readonly enrollment: UploadEnrollment;
  /** Fleet mode: the hub owns the people, so no anchors are added here. */
  readonly fleetEdge: boolean;
}

/** Most events a report reads (newest kept): enough for weeks at a busy door, bounded in memory. */
export const MAX_REPORT_EVENTS = 200_000;

/** face.recognized and face.unknown since `fromMs`, oldest first, at most `max` (the newest). */
export function recognitionEvents(log: Pick<EventLog, 'query'>, fromMs: number | undefined, max = MAX_REPORT_EVENTS): Event[] {
  const out: Event[] = [];
  let toMs: number | undefined;
  // Newest first by pages; a page ending inside one millisecond would repeat it: skip ids seen.
  const seen = new Set<number>();
  for (;;) {
    const page = log.query({ types: ['face.recognized', 'face.unknown'], order: 'desc', limit: MAX_PAGE, ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs: toMs + 1 } : {}) });
    let added = 0;
    for (const e of page) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      out.push(e);
      added++;
    }
    if (page.length < MAX_PAGE || added === 0 || out.length >= max) break;
    toMs = page[page.length - 1].timeMs;
  }
  return out.slice(0, max).reverse();
}

/** The thresholds recognition runs with (config, else the embedder's calibration). */
export function thresholdsInForce(config: Config): { unmasked: number; masked: number; source: string } {
  const r = recognitionSettings(config.recognition, config.models.embedder);
  return { unmasked: r.thresholds.unmasked, masked: r.thresholds.masked, source: r.source };
}

export function calibrationFromLog(log: Pick<EventLog, 'query'>, config: Config, opts: { fromMs?: number; top?: number } = {}): CalibrationReport {
  return calibrationReport(recognitionEvents(log, opts.fromMs), thresholdsInForce(config), opts.top !== undefined ? { top: opts.top } : {});
}

/** GET /v1/calibration and, where the box owns its people, POST /v1/events/:id/not-this-person and /enroll. */
export function calibrationApiRoutes(p: CalibrationApiParts, identities?: IdentityApi): Route[] {
  const { gallery, eventLog, snapshots, bus, log } = p;
  const calibration = calibrationRoute(p);
  if (p.fleetEdge) return [calibration];
  const faceSnapshot = (id: string): Promise<Buffer | undefined> => snapshots.read(id, 'face').catch((e: unknown) => (isEventsError(e) ? undefined : Promise.reject(e)));
  return [
    calibration,
    ...(identities ? [enrollFromEventRoute({ event: (id) => eventLog.get(id), faceSnapshot, identities })] : []),
    ...notThisPersonRoutes({
      gallery,
      event: (id) => eventLog.get(id),
      faceSnapshot,
      embedFace: p.enrollment.embedFace,
      publish: (e) => bus.publish(e),
      logger: log,
    }),
  ];
}

/** GET /v1/calibration?days=N (viewer): the report over the last N days (default 30, at most 365). */
export function calibrationRoute(p: Pick<CalibrationApiParts, 'eventLog' | 'config'>): Route {
  const { eventLog } = p;
  return {
    method: 'GET',
    pattern: ['calibration'],
    role: 'viewer',
    handle: ({ res, url }) => {
      const raw = url.searchParams.get('days');
      const days = raw === null ? 30 : Number(raw);
      if (!Number.isFinite(days) || days <= 0 || days > 365) throw new HttpError(400, 'days must be a number in (0, 365]');
      sendJson(res, 200, calibrationFromLog(eventLog, p.config(), { fromMs: Date.now() - days * 86_400_000 }));
    },
  };
}

/**
 * What a box's HTTP API and WebSocket read and act on (src/api/types.ts ApiDeps), wired from the
 * service's parts: events from the log and the bus, identities and unknowns (refused in fleet
 * mode: the hub owns the people), gates, cameras with their counters, snapshots, the dashboard's
 * live frames, photos and system view.
 */
import type { ApiDeps, GateApi } from '../api/server.ts';
import type { Metrics } from '../api/metrics.ts';
import { describeProviders, type CameraEntry, type Config } from '../config/index.ts';
import { isEventsError, MAX_PAGE, type Event } from '../events/index.ts';
import { refusingIdentityApi, refusingUnknownsApi } from '../fleet/edge.ts';
import type { Logger } from '../log.ts';
import type { AccessControl } from '../../streams/access-control.ts';
import { calibrationApiRoutes } from './calibration-api.ts';
import { cameraSetupRoutes } from './camera-setup-api.ts';
import { cameraViews, ingestLost } from './camera-counts.ts';
import { configApiRoutes, type ConfigApiParts } from './config-api.ts';
import { doorApiRoutes, type DoorApiParts } from './door-api.ts';
import { createCheckedIdentityApi, createPhotoApi, createSystemInfo, webRoot } from './dashboard.ts';
import { requireConsentApi } from './identities.ts';
import { withPrivacyApi } from './identity-privacy.ts';
import type { UploadEnrollment } from './identities.ts';
import type { LiveFrames } from './live-frames.ts';
import type { ServiceModels } from './models.ts';
import type { Storage } from './storage.ts';
import { createUnknownsApi } from './unknowns.ts';

export interface BoxApiParts extends Storage, ConfigApiParts, DoorApiParts {
  readonly config: () => Config;
  readonly cameraEntries: () => readonly CameraEntry[];
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly access: AccessControl;
  readonly models: Pick<ServiceModels, 'detectors'>;
  readonly enrollment: UploadEnrollment;
  readonly gates: GateApi;
  readonly liveFrames: LiveFrames;
  /** Fleet mode: identity and unknown changes are refused here (the hub owns the people). */
  readonly fleetEdge: boolean;
  readonly unmaskedThreshold: () => number;
  readonly startedMs: number;
}

export function boxApiDeps(p: BoxApiParts): ApiDeps {
  const { gallery, eventLog, bus, snapshots, access, log } = p;
  // The one snapshot reader: decrypted bytes, undefined for an unknown or removed id (the API's
  // 404); any other failure (a wrong key, a disk error) is an error, never a silent "not found".
  const snapshotBytes = (id: string, kind: 'face' | 'frame'): Promise<Buffer | undefined> =>
    snapshots.read(id, kind).catch((e: unknown) => (isEventsError(e) ? undefined : Promise.reject(e)));
  const publish = (event: Parameters<typeof bus.publish>[0]): Event => bus.publish(event);
  // The API's identity management, plus the dashboard's look-alike check on every photo.
  const identities = requireConsentApi(createCheckedIdentityApi({ gallery, enroll: (photo) => p.enrollment.enroll(photo), publish, logger: log, threshold: p.unmaskedThreshold }), () => p.config().privacy.requireConsent);
  const unknowns = createUnknownsApi({
    gallery,
    recentUnknownEvents: (limit) => eventLog.query({ types: ['face.unknown'], order: 'desc', limit }),
    mergeHistory: () => eventLog.query({ types: ['unknown.merged'], order: 'asc', limit: MAX_PAGE }),
    snapshotBytes: (id) => snapshotBytes(id, 'face'),
    identities,
    publish,
    logger: log,
  });
  return {
    events: {
      lastId: () => eventLog.lastId(),
      replayThenLive: (since, filter) => bus.replayThenLive(since, filter),
      // A box's events carry no fleet origin: a node or site query matches none of them (the hub's do).
      query: (q) => (q.nodeId !== undefined || q.site !== undefined ? [] : eventLog.query(q)),
    },
    tokens: () => p.config().auth.tokens,
    metrics: p.metrics,
    identities: p.fleetEdge ? refusingIdentityApi(identities) : withPrivacyApi(identities, { gallery, eventLog, snapshots, publish }),
    gates: p.gates,
    cameras: () =>
      cameraViews(p.cameraEntries(), access).map(({ counters: k, ...view }) => {
        const s = k?.ingest?.();
        // Idle decoding (motion.idleDecode keyframes): access units parsed, never decoded, and wakes.
        const idle = s && s.parsed > 0 ? { idleDecode: { parsed: s.parsed, notDecoded: s.notDecoded, wokenBySize: s.wokenBySize, wokenByDemand: s.wokenByDemand } } : {};
        const ingest = s && k && { delivered: s.delivered, droppedInPipeline: s.droppedInPipeline, missedByPts: s.missedByPts, lost: ingestLost(k), starts: s.starts, ...idle };
        return { ...view, ingest, detect: k?.detect, recognize: k?.recognize };
      }),
    snapshotBytes,
    ready: () => access.cameraIds().length > 0 || p.config().cameras.length === 0,
    logger: log,
    // The operator dashboard (src/app/dashboard.ts, live-frames.ts, unknowns.ts; bundle in web/dist).
    liveFrames: p.liveFrames,
    photos: createPhotoApi(gallery),
    unknowns: p.fleetEdge ? refusingUnknownsApi(unknowns) : unknowns,
    consentPolicy: () => ({ required: p.config().privacy.requireConsent, notice: p.config().privacy.consentNotice }),
    system: createSystemInfo({
      metrics: p.metrics,
      startedMs: p.startedMs,
      models: () => ({ ...p.config().models, detectors: p.models.detectors() }),
      executionProvider: () => describeProviders(p.config().models),
      eventLog: () => ({ lastId: eventLog.lastId(), count: eventLog.count() }),
    }),
    webRoot: webRoot(),
    routes: [...configApiRoutes(p), ...calibrationApiRoutes(p, identities), ...cameraSetupRoutes(p), ...doorApiRoutes(p)],
  };
}

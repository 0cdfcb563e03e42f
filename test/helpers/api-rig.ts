/**
 * A box's API over real storage in a temp dir, for integration tests of one group of routes: a
 * gallery (encrypted unless asked not to), the event log and its bus, an encrypted snapshot store, a real embedder with
 * upload enrollment, and the API server on a loopback port with one token per role. The test adds
 * the routes it checks (`deps`); everything is closed and removed at teardown.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex, type Role } from '../../src/api/auth.ts';
import { createMetrics } from '../../src/api/metrics.ts';
import { startApiServer, type ApiDeps, type ApiServer } from '../../src/api/server.ts';
import { createUploadEnrollment, type UploadEnrollment } from '../../src/app/identities.ts';
import { DEFAULT_EMBEDDER } from '../../src/config/index.ts';
import { EventBus, EventLog, isEventsError, SnapshotStore } from '../../src/events/index.ts';
import { openGallery, type Gallery } from '../../src/gallery/index.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { newKek } from '../../src/privacy/index.ts';
import { createEmbedder, type Embedder } from '../../src/recognize/index.ts';

export interface BoxParts {
  readonly dir: string;
  readonly gallery: Gallery;
  readonly log: EventLog;
  readonly bus: EventBus;
  readonly embedder: Embedder;
  readonly enrollment: UploadEnrollment;
  readonly snapshots: SnapshotStore;
  readonly logger: Logger;
  /** A snapshot's decrypted bytes, undefined when it is gone (the API's 404). */
  readonly snapshotBytes: (id: string, kind: 'face' | 'frame') => Promise<Buffer | undefined>;
}

export interface ApiRig extends BoxParts {
  readonly api: ApiServer;
  readonly url: (path: string) => string;
  /** Authorization header of the token with that role (one token per role: `<role>-token-...`). */
  readonly auth: (role: Role) => Record<string, string>;
}

export const rigToken = (role: Role): string => `${role}-token-0123456789abcdef`;

/**
 * Starts the rig in `t.before` and returns a handle that is filled once it ran (read it inside
 * tests). `setup` runs on the storage before the server starts (enroll people, save snapshots).
 */
export function apiRig(
  t: { before(fn: () => Promise<void>): void; teardown(fn: () => Promise<void>): void },
  opts: {
    readonly prefix: string;
    readonly embedder?: string;
    /** Encrypted at rest (gallery and snapshots) unless false. */
    readonly encrypted?: boolean;
    /** More options of the upload enrollment (its rules, as the service reads them). */
    readonly enrollment?: Omit<Parameters<typeof createUploadEnrollment>[0], 'embedder' | 'detectorOptions'>;
    readonly setup?: (parts: BoxParts) => Promise<void>;
    readonly deps: (parts: BoxParts) => Omit<ApiDeps, 'events' | 'tokens' | 'metrics'>;
  },
): ApiRig {
  const rig = {} as { -readonly [K in keyof ApiRig]: ApiRig[K] };
  const dir = mkdtempSync(join(tmpdir(), opts.prefix));
  const encryption = opts.encrypted === false ? undefined : { kek: newKek(), source: 'test' };
  t.before(async () => {
    const gallery = openGallery(join(dir, 'gallery.sqlite'), encryption ? { encryption } : {});
    const log = new EventLog(join(dir, 'events.sqlite'));
    const bus = new EventBus(log);
    const embedder = await createEmbedder(opts.embedder ?? DEFAULT_EMBEDDER);
    const enrollment = createUploadEnrollment({ ...opts.enrollment, detectorOptions: {}, embedder });
    const snapshots = new SnapshotStore(join(dir, 'snapshots'), { retentionMs: 86_400_000, maxFiles: 100, ...(encryption ? { encryption } : {}) });
    const snapshotBytes = (id: string, kind: 'face' | 'frame'): Promise<Buffer | undefined> => snapshots.read(id, kind).catch((e: unknown) => (isEventsError(e) ? undefined : Promise.reject(e)));
    const parts: BoxParts = { dir, gallery, log, bus, embedder, enrollment, snapshots, snapshotBytes, logger: createLogger({ level: 'silent' }) };
    Object.assign(rig, parts);
    await opts.setup?.(parts);
    const roles: Role[] = ['viewer', 'operator', 'admin'];
    rig.api = await startApiServer(
      {
        events: { lastId: () => log.lastId(), replayThenLive: (since, filter) => bus.replayThenLive(since, filter), query: (q) => log.query(q) },
        tokens: () => roles.map((role) => ({ id: role, role, sha256: sha256Hex(rigToken(role)) })),
        metrics: createMetrics({ defaultMetrics: false }),
        ...opts.deps(parts),
      },
      { bind: '127.0.0.1', port: 0, allowedOrigins: [], sendBufferMessages: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000 },
    );
    rig.url = (path) => `http://127.0.0.1:${rig.api.port}${path}`;
  });
  rig.auth = (role) => ({ authorization: `Bearer ${rigToken(role)}` });
  t.teardown(async () => {
    await rig.api?.close();
    await rig.enrollment?.close();
    await rig.embedder?.close();
    rig.bus?.close();
    rig.log?.close();
    rig.gallery?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return rig;
}

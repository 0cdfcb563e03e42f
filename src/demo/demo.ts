/**
 * The demo (`npm start` / `facegate demo`): the whole product on one machine, from real parts.
 * A "door camera" clip is composed from real identity photos (people walking up to the door),
 * encoded to H.264 and served by gst-rtsp-server on loopback; a gallery is enrolled from other
 * photos of the same people; config/demo.yaml (one camera, one gate for the group `staff`) runs
 * the service; and a WebSocket client with the demo viewer token prints the events it receives.
 * The demo gate does not require liveness (config/demo.yaml says so, with why): a clip composed
 * from photos is a print attack by construction.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startService, type Service } from '../app/service.ts';
import { encryptionFor } from '../app/storage.ts';
import { watchEvents } from '../client/watch.ts';
import { formatEvent } from '../client/format.ts';
import { DEFAULT_EMBEDDER, loadConfig, parseConfig, type Config } from '../config/index.ts';
import { hostname } from 'node:os';
import { nodeIdFromHostname } from '../outputs/index.ts';
import { redactUrl } from '../redact.ts';
import { sha256Hex } from '../api/auth.ts';
import { webRoot } from '../app/dashboard.ts';
import { createDetector } from '../detect/index.ts';
import { FacegateError } from '../errors.ts';
import { openGallery, type GalleryEncryption } from '../gallery/index.ts';
import { newKek, writeKeyFile } from '../privacy/index.ts';
import type { Logger } from '../log.ts';
import { createEmbedder, prepareEnrollmentPhoto } from '../recognize/index.ts';
import { doorClipKey, renderDoorClip, type DoorClipOptions } from './door-clip.ts';
import { RtspTestServer } from '../dev/rtsp-server.ts';
import { PROJECT_ROOT } from '../paths.ts';

const ROOT = PROJECT_ROOT;
export const DEMO_CONFIG = join(ROOT, 'config/demo.yaml');
export const DEMO_VIEWER_TOKEN = 'demo-viewer-token';
export const DEMO_OPERATOR_TOKEN = 'demo-operator-token';
/** Admin (enrols and edits people in the dashboard); added to the demo config at run time. */
export const DEMO_ADMIN_TOKEN = 'demo-admin-token';

/** Who walks up to the door (clip) and who is enrolled (gallery): different photos of each person. */
export const DEMO_CAST = {
  visitors: [
    { who: 'Angelina (staff)', photo: 'identities/deepface/angelina/img2.jpg' },
    { who: 'a stranger', photo: 'identities/easyface/easyface_person_2/face_recognition_1.png' },
    { who: 'Min (staff), masked', photo: 'identities/easyface/easyface_person_1/mask_face_recognition_2.jpg' },
    { who: 'Elon (visitor, not staff)', photo: 'identities/deepface/elon/img18.jpg' },
  ],
  enrolled: [
    { name: 'Angelina', groups: ['staff'], photo: 'identities/deepface/angelina/img1.jpg' },
    { name: 'Elon', groups: ['visitors'], photo: 'identities/deepface/elon/img19.jpg' },
    { name: 'Min', groups: ['staff'], photo: 'identities/easyface/easyface_person_1/mask_face_recognition_1.jpg' },
  ],
} as const;

export const DEMO_CLIP: DoorClipOptions = { width: 1280, height: 720, fps: 10 };

export function demoDataDir(): string {
  const dir = resolve(process.env.FACEGATE_DATA_DIR ?? join(ROOT, '../shared/data'));
  if (!existsSync(join(dir, 'identities'))) {
    throw new FacegateError('DATA_MISSING', `the demo's photos are not at ${dir}`, {
      context: { dir },
      hint: 'put the shared data folder beside the checkout (../shared/data) or set FACEGATE_DATA_DIR to it',
    });
  }
  return dir;
}

export interface DemoOptions {
  readonly logger: Logger;
  /** API port (default: the demo config's, 8640; 0 = any free port). */
  readonly port?: number;
  /** Keep running (the clip replays) instead of stopping after one pass. */
  readonly forever?: boolean;
  /** Print track events too. */
  readonly all?: boolean;
  readonly print?: (line: string) => void;
  readonly stateDir?: string;
  readonly signal?: AbortSignal;
  /** Also publish to this MQTT broker (events, state, Home Assistant discovery). */
  readonly mqtt?: string | undefined;
  /** The MQTT node id (default: the host name). */
  readonly nodeId?: string | undefined;
}

export interface DemoResult {
  readonly granted: number;
  readonly denied: number;
  readonly recognized: number;
  readonly unknown: number;
  readonly received: number;
}

/** Render (or reuse) the door clip under stateDir. */
export async function prepareDoorClip(stateDir: string, dataDir = demoDataDir()): Promise<{ path: string; durationMs: number }> {
  const visitors = DEMO_CAST.visitors.map((v) => ({ photo: join(dataDir, v.photo) }));
  const out = join(stateDir, `door-${doorClipKey(visitors, DEMO_CLIP)}.mp4`);
  return renderDoorClip(visitors, out, DEMO_CLIP);
}

/** Delete an SQLite database with its WAL and shared-memory files. */
function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

/** Enroll the demo cast into a fresh gallery at `db`. */
export async function enrollDemoGallery(db: string, dataDir = demoDataDir(), embedderName = DEFAULT_EMBEDDER, encryption?: GalleryEncryption): Promise<void> {
  removeDatabase(db);
  const detector = await createDetector({ tier: '2.5g', padRetry: true });
  const embedder = await createEmbedder(embedderName);
  const gallery = openGallery(db, encryption ? { encryption } : {});
  try {
    for (const p of DEMO_CAST.enrolled) {
      const v = await prepareEnrollmentPhoto(join(dataDir, p.photo), detector, embedder);
      if (!v.ok) throw new FacegateError('ENROLL_REJECTED', `demo enrollment of ${p.name} failed: ${v.message}`, { hint: v.hint });
      gallery.enroll({ name: p.name, groups: [...p.groups], templates: v.templates, crops: [v.crop] });
    }
  } finally {
    gallery.close();
    await detector.close();
    await embedder.close();
  }
}

/**
 * The demo config with the camera pointed at the loopback RTSP server and state under stateDir;
 * with `mqttUrl`, the MQTT output on (validated like a config file's: no credentials in the URL).
 */
export function demoConfig(base: Config, rtspUrl: string, stateDir: string, mqttUrl?: string, nodeId?: string): Config {
  const mqtt = mqttUrl === undefined ? base.events.outputs.mqtt : parseConfig({ events: { outputs: { mqtt: { enabled: true, url: mqttUrl, ...(nodeId ? { nodeId } : {}) } } } }, '--mqtt').events.outputs.mqtt;
  const tokens = base.auth.tokens.some((t) => t.role === 'admin') ? base.auth.tokens : [...base.auth.tokens, { id: 'demo-admin', role: 'admin' as const, sha256: sha256Hex(DEMO_ADMIN_TOKEN) }];
  return {
    ...base,
    auth: { ...base.auth, tokens },
    cameras: base.cameras.map((c) => ({ ...c, source: { kind: 'rtsp' as const, url: rtspUrl, transport: 'tcp' as const, latencyMs: 0, codec: 'h264' as const } })),
    gallery: { ...base.gallery, db: join(stateDir, 'gallery.sqlite') },
    // Encrypted at rest like a real box (config/default.yaml), under the demo's own key.
    privacy: { ...base.privacy, encryption: { ...base.privacy.encryption, enabled: true, keyFile: join(stateDir, 'facegate.key') } },
    events: { ...base.events, db: join(stateDir, 'events.sqlite'), snapshots: { ...base.events.snapshots, dir: join(stateDir, 'snapshots') }, outputs: { ...base.events.outputs, mqtt } },
  };
}

/**
 * The demo's own key-encryption key, made once beside its state (like `facegate keys init`). A
 * demo whose key is gone starts its snapshots afresh: they were sealed under the lost key.
 */
function ensureDemoKey(config: Config): void {
  const keyFile = config.privacy.encryption.keyFile;
  if (existsSync(keyFile)) return;
  rmSync(config.events.snapshots.dir, { recursive: true, force: true });
  writeKeyFile(keyFile, newKek(), { exclusive: true });
}

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const print = opts.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = opts.logger;
  const dataDir = demoDataDir();
  const stateDir = resolve(opts.stateDir ?? join(ROOT, '.facegate/demo'));
  mkdirSync(stateDir, { recursive: true });

  print('facegate demo: composing the door-camera clip from real photos (cached after the first run)...');
  const clip = await prepareDoorClip(stateDir, dataDir);
  const rtsp = await RtspTestServer.start({ clip: clip.path, width: DEMO_CLIP.width, height: DEMO_CLIP.height, fps: DEMO_CLIP.fps });
  let service: Service | undefined;
  let watcher: { close(): void } | undefined;
  try {
    const url = rtsp.url('/clip');
    print(`camera: ${url} (gst-rtsp-server on loopback, H.264 ${DEMO_CLIP.width}x${DEMO_CLIP.height} @ ${DEMO_CLIP.fps} fps, ${(clip.durationMs / 1000).toFixed(1)} s)`);
    print(`walking up: ${DEMO_CAST.visitors.map((v) => v.who).join(', ')}`);
    const config = demoConfig(loadConfig(DEMO_CONFIG), url, stateDir, opts.mqtt, opts.nodeId);
    removeDatabase(config.events.db);
    ensureDemoKey(config);
    await enrollDemoGallery(config.gallery.db, dataDir, config.models.embedder, encryptionFor(config));
    print(`gallery: ${DEMO_CAST.enrolled.map((p) => `${p.name} [${p.groups.join(',')}]`).join(', ')}; gate front-door admits group staff`);

    let granted = 0;
    let denied = 0;
    let recognized = 0;
    let unknown = 0;
    let received = 0;
    let cameraUp = false;
    let finished = false;
    let passEnded: () => void = () => undefined;
    const onePass = new Promise<void>((r) => (passEnded = r));
    service = await startService(config, { logger: log, port: opts.port });
    print(`API: ${service.api.url} (WebSocket ${service.api.url.replace('http', 'ws')}/v1/events, viewer token "${DEMO_VIEWER_TOKEN}")`);
    if (opts.mqtt !== undefined) {
      const node = config.events.outputs.mqtt?.nodeId ?? nodeIdFromHostname(hostname());
      print(`MQTT: ${redactUrl(opts.mqtt)}, topics facegate/${node}/# (watch: mosquitto_sub -v -t 'facegate/${node}/#'), Home Assistant discovery at homeassistant/device/${node}/config`);
    }
    if (existsSync(join(webRoot(), 'index.html'))) {
      print(`dashboard: ${service.api.url}/  sign in with the token "${DEMO_ADMIN_TOKEN}" (admin; or "${DEMO_OPERATOR_TOKEN}" operator, "${DEMO_VIEWER_TOKEN}" viewer)`);
    } else {
      print(`dashboard: not built (run \`npx tsx scripts/build-web.ts\`, or \`npm start\` which builds it); the API is at ${service.api.url}/v1/`);
    }
    if (opts.forever) print('the door clip loops (the camera reconnects after each pass); Ctrl-C to stop');
    print('events received by the WebSocket client:');
    watcher = watchEvents({
      url: service.api.url,
      token: DEMO_VIEWER_TOKEN,
      since: 0,
      onEvent: (e) => {
        received++;
        if (e.type === 'gate.granted') granted++;
        if (e.type === 'gate.denied') denied++;
        if (e.type === 'face.recognized') recognized++;
        if (e.type === 'face.unknown') unknown++;
        if (e.type === 'camera.up') cameraUp = true;
        // The clip ends with EOS: the camera goes down (and would reconnect and replay).
        if (e.type === 'camera.down' && cameraUp) passEnded();
        if (opts.all || !e.type.startsWith('track.')) print(`  ${formatEvent(e)}`);
      },
      onStatus: (s) => {
        if (s.state !== 'connected' && !finished) log.warn({ state: s.state, detail: s.detail }, 'demo watcher');
      },
    });
    const aborted = new Promise<void>((r) => opts.signal?.addEventListener('abort', () => r(), { once: true }));
    if (opts.forever) await aborted;
    else {
      const limit = new Promise<void>((r) => setTimeout(r, clip.durationMs + 60_000).unref());
      await Promise.race([onePass, limit, aborted]);
      // The last gate decisions come at track end, just before the EOS: give the socket a moment.
      await new Promise((r) => setTimeout(r, 500));
    }
    finished = true;
    const result = { granted, denied, recognized, unknown, received };
    print(`demo done: ${recognized} recognized, ${unknown} unknown, ${granted} granted, ${denied} denied (${received} events over the WebSocket; log at ${config.events.db})`);
    return result;
  } finally {
    watcher?.close();
    await service?.close();
    await rtsp.stop();
  }
}

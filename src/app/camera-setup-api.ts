/**
 * What the dashboard's add-camera wizard and gate editor ask the box (admin only):
 * - POST /v1/cameras/probe: connect once to a stream URL (credentials given apart or in the URL),
 *   report codec, size and fps, and a JPEG of the first decoded frame (base64) to draw zones on;
 * - POST /v1/cameras/discover: ONVIF WS-Discovery (multicast, or directed to a host) with each
 *   camera's profiles and stream URIs;
 * - POST /v1/gates/:id/test-actuation: run the running gate's actuation (webhook, command) once,
 *   as a manual open audited with the admin's id, and answer each target's outcome;
 * - GET /v1/config/entries: the cameras and gates as the file has them (no defaults filled in),
 *   secrets redacted, with the file's version as the ETag: what the editors start from and send
 *   back through PUT /v1/config/{cameras,gates}/:id (a redacted value sent back keeps the file's).
 * Credentials are never logged nor answered: errors and URIs go through src/redact.ts.
 */
import { readFileSync } from 'node:fs';
import { map } from 'rxjs';
import { parse as parseYaml } from 'yaml';
import { HttpError, readJson, sendJson, type Route } from '../api/router.ts';
import { configVersion, redactConfigText } from '../config/edit.ts';
import { errorMessage } from '../errors.ts';
import { GstLaunchSource, isCameraError, probeCamera, type ProbeResult, type Source } from '../ingest/index.ts';
import type { Logger } from '../log.ts';
import { discoverCameras, isOnvifError, parseProbeTarget } from '../onvif/index.ts';
import type { Config } from '../config/index.ts';
import type { EventBus } from '../events/index.ts';
import { createActuator } from '../gates/index.ts';
import { redactText, redactUrl, redactValue } from '../redact.ts';
import { resolveProbeUrl, withCredentials } from './camera-setup.ts';
import type { RgbImage } from '../types.ts';
import { loadSharp } from '../image/sharp.ts';

export interface CameraSetupParts {
  readonly configFile?: string | undefined;
  readonly config: () => Config;
  readonly bus: EventBus;
  readonly log: Logger;
}

const TEST_ACTUATION_REASON = 'test actuation from the gate editor';

/** At most this many probes / discoveries at once: each probe is a GStreamer child on a small box. */
const MAX_BUSY = 2;
const PROBE_TIMEOUT_MS = { default: 10_000, max: 30_000 };
const DISCOVER_TIMEOUT_MS = { default: 3000, max: 15_000 };
const SNAPSHOT_MAX_WIDTH = 1280;

const badField = (field: string, message: string, hint: string): HttpError => new HttpError(400, message, {}, { code: 'BAD_REQUEST', field, in: 'body', hint });

function optionalString(body: Record<string, unknown>, field: string, max = 1024): string | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || v.length > max) throw badField(field, `${field} must be a string of at most ${max} characters`, `send ${field} as text, or leave it out`);
  return v;
}

function timeoutOf(body: Record<string, unknown>, limits: { default: number; max: number }): number {
  const v = body.timeoutMs;
  if (v === undefined || v === null) return limits.default;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 100 || v > limits.max) throw badField('timeoutMs', `timeoutMs must be a whole number of milliseconds in [100, ${limits.max}]`, `leave it out for ${limits.default} ms`);
  return v;
}

/** Reasons a probe with the wrong depayloader fails with: the next codec is tried. */
const WRONG_CODEC = new Set(['not-negotiated', 'no-video', 'protocol-error', 'error', 'eos']);

/** A Source that remembers the first frame it delivers (`probeCamera` keeps only its caps). */
function capturingSource(inner: Source): { source: Source; frame: () => RgbImage | undefined } {
  let frame: RgbImage | undefined;
  const source: Source = {
    missingElements: (els) => inner.missingElements(els),
    run: (pipeline, opts) =>
      inner.run(pipeline, opts).pipe(
        map((ev) => {
          if (ev.type === 'frame' && frame === undefined) frame = ev.image;
          return ev;
        }),
      ),
  };
  return { source, frame: () => frame };
}

/**
 * Probe with each codec's depayloader in turn (h264, the config's default, then h265): the one
 * that delivers a frame names the codec the camera sends, which the saved camera needs (a
 * hardware decoder cannot use decodebin). Last, decodebin (`auto`) for anything else. A failure
 * that is not about the codec (auth, unreachable, no such path) ends the search at once.
 */
async function probeCodecs(url: string, timeoutMs: number): Promise<{ codec: string; result: ProbeResult; frame: RgbImage | undefined }> {
  let last: unknown;
  for (const codec of ['h264', 'h265', 'auto'] as const) {
    const cap = capturingSource(new GstLaunchSource());
    try {
      const result = await probeCamera(url, { timeoutMs, source: cap.source, codec, decoder: 'cpu' });
      return { codec: codec === 'auto' ? 'other' : codec, result, frame: cap.frame() };
    } catch (e) {
      if (!isCameraError(e) || !WRONG_CODEC.has(e.code)) throw e;
      last = e;
    }
  }
  throw last;
}

export function cameraSetupRoutes(p: CameraSetupParts): Route[] {
  let busy = 0;
  const turn = async <T>(work: () => Promise<T>): Promise<T> => {
    if (busy >= MAX_BUSY) throw new HttpError(503, `${MAX_BUSY} camera probes or discoveries are already running`, { 'retry-after': '2' }, { code: 'BUSY', hint: 'wait for them to finish and try again' });
    busy++;
    try {
      return await work();
    } finally {
      busy--;
    }
  };

  const routes: Route[] = [
    {
      method: 'POST',
      pattern: ['cameras', 'probe'],
      role: 'admin',
      handle: async ({ req, res, maxMessageBytes }, _params, who) => {
        const body = await readJson(req, maxMessageBytes);
        const url = optionalString(body, 'url', 2048);
        if (url === undefined || !/^rtsps?:\/\/\S+$/i.test(url)) throw badField('url', 'url must be an rtsp:// or rtsps:// URL', 'the stream URL from the camera\'s manual or from Discover, e.g. rtsp://192.0.2.10:554/stream1');
        const username = optionalString(body, 'username', 256);
        const password = optionalString(body, 'password', 256);
        const timeoutMs = timeoutOf(body, PROBE_TIMEOUT_MS);
        const full = withCredentials(resolveProbeUrl(url, optionalString(body, 'cameraId', 128), p.config().cameras), username, password);
        await turn(async () => {
          const started = Date.now();
          try {
            const { codec, result: r, frame } = await probeCodecs(full, timeoutMs);
            let snapshot: string | undefined;
            if (frame) {
              const jpeg = await (await loadSharp())(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
                .resize({ width: Math.min(frame.width, SNAPSHOT_MAX_WIDTH), withoutEnlargement: true })
                .jpeg({ quality: 80 })
                .toBuffer();
              snapshot = jpeg.toString('base64');
            }
            const fps = r.caps.fps === undefined ? null : Number(r.caps.fps.toFixed(2));
            p.log.info({ actor: who.id, url: redactUrl(full), width: r.caps.width, height: r.caps.height, ms: Date.now() - started }, 'camera probed from the API');
            sendJson(res, 200, {
              ok: true,
              url: r.url,
              codec,
              width: r.caps.width,
              height: r.caps.height,
              fps,
              firstFrameMs: r.firstFrameMs,
              transport: r.transport,
              ...(snapshot ? { snapshot: { contentType: 'image/jpeg', base64: snapshot } } : {}),
            });
          } catch (e) {
            if (!isCameraError(e)) throw e;
            // What went wrong and the fix, never the password (the error texts are redacted at the source; once more here).
            p.log.info({ actor: who.id, url: redactUrl(full), code: e.code }, 'camera probe from the API failed');
            const status = e.code === 'start-timeout' ? 504 : 422;
            sendJson(res, status, { ok: false, error: redactText(e.message), code: e.code, ...(e.hint ? { hint: redactText(e.hint) } : {}) });
          }
        });
      },
    },
    {
      method: 'POST',
      pattern: ['cameras', 'discover'],
      role: 'admin',
      handle: async ({ req, res, maxMessageBytes }, _params, who) => {
        const body = await readJson(req, maxMessageBytes);
        const host = optionalString(body, 'host', 300);
        const username = optionalString(body, 'username', 256);
        const password = optionalString(body, 'password', 256);
        const timeoutMs = timeoutOf(body, DISCOVER_TIMEOUT_MS);
        if ((username === undefined) !== (password === undefined)) throw badField(username === undefined ? 'username' : 'password', 'username and password go together', 'give both (the camera\'s ONVIF user), or neither');
        await turn(async () => {
          try {
            const targets = host === undefined ? [] : [parseProbeTarget(host.trim())];
            const cameras = await discoverCameras({ timeoutMs, targets, credentials: username !== undefined && password !== undefined ? { user: username, password } : undefined });
            p.log.info({ actor: who.id, host, found: cameras.length }, 'ONVIF discovery from the API');
            sendJson(res, 200, redactValue({ ok: true, multicast: host === undefined, cameras }));
          } catch (e) {
            if (!isOnvifError(e)) throw e;
            sendJson(res, 422, { ok: false, error: redactText(e.message), code: e.code, ...(e.hint ? { hint: e.hint } : {}) });
          }
        });
      },
    },
    {
      method: 'POST',
      pattern: ['gates', ':id', 'test-actuation'],
      role: 'admin',
      handle: async ({ res }, { id }, who) => {
        const gate = p.config().gates.find((g) => g.id === id);
        if (!gate) throw new HttpError(404, `no gate '${id}' is running`, {}, { code: 'NOT_FOUND', hint: 'save the gate first: the test runs the running gate\'s actuation' });
        if (!gate.actuation) throw new HttpError(409, `gate '${id}' has no actuation`, {}, { code: 'NO_ACTUATION', hint: 'add a webhook or a command under actuation and save the gate' });
        const timeMs = Date.now();
        // A real open: audited like an operator's, then the outcome of each target like a grant's.
        const opened = { type: 'gate.opened' as const, gateId: id, action: 'open' as const, by: who.id, reason: TEST_ACTUATION_REASON, timeMs };
        const logged = p.bus.publish({ type: 'gate.opened', gateId: id, timeMs, data: { action: 'open', by: who.id, reason: TEST_ACTUATION_REASON } });
        const result = await createActuator(gate.actuation, { log: p.log }).actuate({ gateId: id, action: 'open', event: opened });
        const data = { action: 'open' as const, trigger: 'gate.opened' as const, triggerId: logged.id, outcomes: result.outcomes.map((o) => ({ ...o })) };
        p.bus.publish({ type: result.ok ? 'gate.actuated' : 'gate.actuation_failed', gateId: id, timeMs: Date.now(), data });
        p.log.info({ actor: who.id, gate: id, ok: result.ok }, 'test actuation from the API');
        sendJson(res, 200, { ok: result.ok, outcomes: result.outcomes });
      },
    },
  ];
  const file = p.configFile;
  if (file !== undefined) {
    routes.push({
      method: 'GET',
      pattern: ['config', 'entries'],
      role: 'admin',
      handle: ({ res }) => {
        let bytes: Buffer;
        let doc: { cameras?: unknown; gates?: unknown };
        try {
          bytes = readFileSync(file);
          doc = (parseYaml(redactConfigText(bytes.toString('utf8'))) ?? {}) as typeof doc;
        } catch (e) {
          throw new HttpError(500, `cannot read the config file: ${redactText(errorMessage(e))}`, {}, { code: 'CONFIG_UNREADABLE', hint: 'run `facegate config check` on the box' });
        }
        // The same version as GET /v1/config: the sha256 of the file's bytes.
        const version = configVersion(bytes);
        const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
        sendJson(res, 200, { version, cameras: list(doc.cameras), gates: list(doc.gates) }, { etag: `"${version}"` });
      },
    });
  }
  return routes;
}

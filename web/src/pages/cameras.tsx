/**
 * Cameras (admin): the cameras of the config file with Edit and Remove, and the add-camera wizard:
 * a camera found by ONVIF discovery or a typed stream URL, a probe (codec, size, fps and a
 * snapshot), decoder, fps and zones drawn on the snapshot, saved through the config editor API
 * (If-Match: a file changed underneath is a conflict to reload and retry; an invalid camera shows
 * config check's paths and fixes).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.ts';
import { RemoveEntryDialog, SaveProblem, useConfigEntries } from '../config-entries.tsx';
import { discoverOnvif, jpegUrl, probeStream, saveEntry, urlWithCredentials, type DiscoveredCamera, type Entry, type ProbeFailed, type ProbeOk, type SaveOutcome } from '../config-api.ts';
import { can, Empty, ErrorBox, Loading, removeAt, replaceAt, useLoad, useSession } from '../ui.tsx';
import { healthOf, type CameraView } from './live.tsx';
import { isRecord } from '../../../src/lib/records.ts';
import { IDLE_DECODE_DEFAULT, IDLE_DECODE_MODES, idleKeyframesProblem, type IdleDecodeCamera, type IdleDecodeMode } from '../../../src/config/idle-decode.ts';

export interface Zone {
  readonly id: string;
  readonly polygon: readonly (readonly [number, number])[];
}

const DECODERS = ['cpu', 'openh264', 'nvdec', 'jetson'] as const;
const DECODER_LABELS: Record<(typeof DECODERS)[number], string> = {
  cpu: 'cpu (any machine)',
  openh264: 'openh264 (H.264 on the CPU, less memory)',
  nvdec: 'nvdec (NVIDIA GPU)',
  jetson: 'jetson (NVIDIA Jetson)',
};

/** Normalised coordinates as the config keeps them: 0..1, three decimals. */
const norm = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

/** The rectangle between two dragged corners as a zone polygon (clockwise from the top-left). */
export function rectPolygon(a: readonly [number, number], b: readonly [number, number]): [number, number][] {
  const x0 = norm(Math.min(a[0], b[0]));
  const x1 = norm(Math.max(a[0], b[0]));
  const y0 = norm(Math.min(a[1], b[1]));
  const y1 = norm(Math.max(a[1], b[1]));
  return [
    [x0, y0],
    [x1, y0],
    [x1, y1],
    [x0, y1],
  ];
}

/** A camera id from a name: lower case letters, digits and dashes. */
const slugOf = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function streamOf(e: Entry): string {
  if (typeof e.url === 'string') return e.url;
  const src = e.source as Record<string, unknown> | undefined;
  if (!src) return '';
  if (src.kind === 'rtsp') return str(src.url);
  if (src.kind === 'file') return `file: ${str(src.path)}`;
  return String(src.kind ?? '');
}

/** A camera's `motion.idleDecode` as its file has it; not written means the schema's default. */
function idleDecodeOf(e: Entry): { mode: IdleDecodeMode; written: boolean } {
  const v = isRecord(e.motion) ? e.motion.idleDecode : undefined;
  return (IDLE_DECODE_MODES as readonly unknown[]).includes(v) ? { mode: v as IdleDecodeMode, written: true } : { mode: IDLE_DECODE_DEFAULT, written: false };
}

/**
 * The idle-decoding switch: what it shows and what a save writes. An existing camera (`existing`:
 * its mode as the file has it) is shown as it is and never rewritten unless the user changes it;
 * a new camera gets key frames only when its source allows them (`allowed`: the config check's
 * rule), and nothing written (the schema's default) when it does not. `choice`: the user's click.
 */
export function idleDecodeSwitch(p: { existing: IdleDecodeMode | undefined; choice: IdleDecodeMode | undefined; allowed: boolean }): { shown: IdleDecodeMode; write: IdleDecodeMode | undefined } {
  if (p.existing !== undefined) {
    const shown = p.choice ?? p.existing;
    return { shown, write: shown !== p.existing ? shown : undefined };
  }
  const write = p.choice ?? (p.allowed ? 'keyframes' : undefined);
  return { shown: write ?? IDLE_DECODE_DEFAULT, write };
}

/** A snapshot with its zones; drag a rectangle to add one. */
function ZoneCanvas({ image, zones, onAdd }: { image: string; zones: readonly Zone[]; onAdd: (polygon: [number, number][]) => void }) {
  const box = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<{ a: [number, number]; b: [number, number] } | undefined>(undefined);
  const at = (ev: PointerEvent): [number, number] => {
    const r = box.current?.getBoundingClientRect();
    if (!r || r.width === 0 || r.height === 0) return [0, 0];
    return [norm((ev.clientX - r.left) / r.width), norm((ev.clientY - r.top) / r.height)];
  };
  const preview = drag ? rectPolygon(drag.a, drag.b) : undefined;
  return (
    <div
      class="zone-canvas"
      ref={box}
      data-testid="zone-canvas"
      onPointerDown={(ev) => {
        (ev.currentTarget as HTMLElement).setPointerCapture?.(ev.pointerId);
        const p = at(ev);
        setDrag({ a: p, b: p });
      }}
      onPointerMove={(ev) => drag && setDrag({ a: drag.a, b: at(ev) })}
      onPointerUp={(ev) => {
        if (!drag) return;
        const poly = rectPolygon(drag.a, at(ev));
        setDrag(undefined);
        // A click is not a zone: at least 2 % of the frame each way.
        if (poly[1][0] - poly[0][0] >= 0.02 && poly[2][1] - poly[1][1] >= 0.02) onAdd(poly);
      }}
    >
      <img src={image} alt="snapshot from the camera" draggable={false} />
      <svg viewBox="0 0 1 1" preserveAspectRatio="none" aria-hidden="true">
        {zones.map((z) => (
          <g key={z.id} class="zone">
            <polygon points={z.polygon.map((p) => p.join(',')).join(' ')} />
          </g>
        ))}
        {preview && <polygon class="zone-drawing" points={preview.map((p) => p.join(',')).join(' ')} />}
      </svg>
      {zones.map((z) => (
        <span key={z.id} class="zone-label" style={{ left: `${z.polygon[0][0] * 100}%`, top: `${z.polygon[0][1] * 100}%` }}>
          {z.id}
        </span>
      ))}
    </div>
  );
}

function Discovery({ username, password, onUse }: { username: string; password: string; onUse: (c: DiscoveredCamera, url: string) => void }) {
  const { api } = useSession();
  const [host, setHost] = useState('');
  const [busy, setBusy] = useState(false);
  const [found, setFound] = useState<{ cameras: readonly DiscoveredCamera[]; multicast: boolean } | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const discover = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const creds = username && password ? { username, password } : {};
      setFound(await discoverOnvif(api, { ...(host.trim() ? { host: host.trim() } : {}), ...creds }));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <fieldset class="discover">
      <legend>Find a camera (ONVIF)</legend>
      <label for="discover-host">Camera host (optional; multicast finds cameras on this network only)</label>
      <div class="row">
        <input id="discover-host" placeholder="192.0.2.10 or 192.0.2.10:3702" value={host} onInput={(e) => setHost((e.target as HTMLInputElement).value)} />
        <button type="button" onClick={discover} disabled={busy}>
          {busy ? 'Discovering…' : 'Discover'}
        </button>
      </div>
      <p class="muted">The Username and Password below are sent to the cameras found (ONVIF digest, never in clear).</p>
      {error !== undefined && <ErrorBox error={error} />}
      {found && found.cameras.length === 0 && <Empty>No ONVIF camera answered{found.multicast ? ' on this network: give its host' : ''}. Type the stream URL instead.</Empty>}
      {found && found.cameras.length > 0 && (
        <ul class="found">
          {found.cameras.map((c) => (
            <li key={c.address}>
              <strong>{c.name ?? '(no name)'}</strong> {c.hardware && <span class="muted">{c.hardware}</span>} <span class="muted">{c.xaddr ?? c.from}</span>
              {c.error && (
                <p class="error" role="alert">
                  {c.error.message}
                  {c.error.hint ? ` (fix: ${c.error.hint})` : ''}
                </p>
              )}
              <ul>
                {c.profiles.map((p) => (
                  <li key={p.token}>
                    {p.name}: {[p.encoding, p.width && p.height ? `${p.width}x${p.height}` : undefined, p.fps ? `${p.fps} fps` : undefined].filter(Boolean).join(' ')}{' '}
                    {p.streamUri && (
                      <button type="button" onClick={() => onUse(c, p.streamUri as string)} aria-label={`Use ${c.name ?? c.address} ${p.name}`}>
                        Use
                      </button>
                    )}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      )}
    </fieldset>
  );
}

/** The add / edit camera wizard. `entry` = edit that camera (its id stays). */
export function CameraWizard({ entry, version, reload, onSaved, onCancel }: { entry: Entry | undefined; version: string; reload: () => Promise<string>; onSaved: (id: string, outcome: SaveOutcome) => void; onCancel: () => void }) {
  const { api } = useSession();
  const [id, setId] = useState(entry?.id ?? '');
  const [name, setName] = useState(str(entry?.name));
  const [url, setUrl] = useState(entry ? streamOf(entry) : '');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const initialDecoder = typeof entry?.decoder === 'string' ? entry.decoder : entry?.decoder !== undefined ? 'custom' : 'cpu';
  const [decoder, setDecoder] = useState<string>(initialDecoder);
  const [fps, setFps] = useState(entry?.fps !== undefined ? String(entry.fps) : '5');
  const [zones, setZones] = useState<Zone[]>(Array.isArray(entry?.zones) ? (entry.zones as Zone[]) : []);
  const existingIdle = entry ? idleDecodeOf(entry) : undefined;
  const [idleChoice, setIdleChoice] = useState<IdleDecodeMode | undefined>(undefined);
  const [probing, setProbing] = useState(false);
  const [probe, setProbe] = useState<ProbeOk | ProbeFailed | undefined>(undefined);
  const [probeError, setProbeError] = useState<unknown>(undefined);
  const [snapshot, setSnapshot] = useState<string | undefined>(undefined);
  const [saving, setSaving] = useState(false);
  const [outcome, setOutcome] = useState<SaveOutcome | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [current, setCurrent] = useState(version);
  useEffect(() => () => snapshot && URL.revokeObjectURL(snapshot), [snapshot]);

  const runProbe = async () => {
    setProbing(true);
    setProbe(undefined);
    setProbeError(undefined);
    try {
      const r = await probeStream(api, { url: url.trim(), ...(username ? { username } : {}), ...(password ? { password } : {}), ...(entry ? { cameraId: entry.id } : {}) });
      setProbe(r);
      if (r.ok && r.snapshot) setSnapshot(jpegUrl(r.snapshot.base64));
    } catch (e) {
      setProbeError(e);
    } finally {
      setProbing(false);
    }
  };

  /** The camera as the form has it, idle decoding aside (the rule for it reads the rest). */
  const draft = (): Record<string, unknown> => {
    const v: Record<string, unknown> = { ...(entry ?? {}) };
    v.id = id.trim();
    if (name.trim()) v.name = name.trim();
    else delete v.name;
    const stream = urlWithCredentials(url.trim(), username, password);
    const codec = probe?.ok ? (probe.codec === 'other' ? 'auto' : probe.codec) : undefined;
    const src = entry?.source as Record<string, unknown> | undefined;
    if (src && src.kind !== 'rtsp' && url === streamOf(entry as Entry)) {
      // A file, test or pipeline source: kept as it is.
    } else if (src?.kind === 'rtsp') {
      v.source = { ...src, url: stream, ...(codec ? { codec } : {}) };
    } else if (codec === 'h265' || codec === 'auto') {
      // The url shorthand means h264: another codec needs the full source.
      v.source = { kind: 'rtsp', url: stream, codec };
      delete v.url;
    } else {
      v.url = stream;
      delete v.source;
    }
    if (decoder !== 'custom') v.decoder = decoder;
    const n = Number(fps);
    v.fps = fps.trim() !== '' && Number.isFinite(n) ? n : fps;
    if (zones.length) v.zones = zones;
    else delete v.zones;
    return v;
  };
  const idleProblem = idleKeyframesProblem(draft() as IdleDecodeCamera);
  const idle = idleDecodeSwitch({ existing: existingIdle?.mode, choice: idleChoice, allowed: idleProblem === undefined });
  const value = (): Entry => {
    const v = draft();
    if (idle.write !== undefined) v.motion = { ...(isRecord(v.motion) ? v.motion : {}), idleDecode: idle.write };
    return v as Entry;
  };

  const save = async (at: string) => {
    setSaving(true);
    setError(undefined);
    setOutcome(undefined);
    try {
      const v = value();
      const r = await saveEntry(api, 'cameras', v.id, v, at);
      setOutcome(r);
      if (r.kind === 'saved') onSaved(v.id, r);
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };
  const retry = async () => {
    try {
      const v = await reload();
      setCurrent(v);
      await save(v);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <section class="wizard card" aria-labelledby="wizard-title">
      <h2 id="wizard-title">{entry ? `Edit camera ${entry.id}` : 'Add camera'}</h2>
      <div class="wizard-cols">
        <form
          class="camera-form"
          onSubmit={(ev) => {
            ev.preventDefault();
            void save(current);
          }}
        >
          {!entry && (
            <Discovery
              username={username}
              password={password}
              onUse={(c, u) => {
                setUrl(u.replace(/^(rtsps?:\/\/)[^@/]*@/i, '$1'));
                if (!name && c.name) setName(c.name);
                if (!id && c.name) setId(slugOf(c.name));
              }}
            />
          )}
          <label for="cam-id">Camera id</label>
          <input id="cam-id" value={id} readOnly={entry !== undefined} required placeholder="front-door" onInput={(e) => setId((e.target as HTMLInputElement).value)} />
          <label for="cam-name">Name</label>
          <input id="cam-name" value={name} placeholder="Front door" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <label for="cam-url">Stream URL</label>
          <input id="cam-url" value={url} placeholder="rtsp://192.0.2.10:554/stream1" onInput={(e) => setUrl((e.target as HTMLInputElement).value)} />
          <div class="row">
            <div>
              <label for="cam-user">Username</label>
              <input id="cam-user" value={username} autocomplete="off" onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
            </div>
            <div>
              <label for="cam-pass">Password</label>
              <input id="cam-pass" type="password" value={password} autocomplete="new-password" onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
            </div>
          </div>
          {entry && <p class="muted">Leave Username and Password empty to keep the ones saved (shown as ***).</p>}
          <div class="actions">
            <button type="button" onClick={runProbe} disabled={probing || url.trim() === ''}>
              {probing ? 'Probing…' : 'Probe'}
            </button>
          </div>
          {probeError !== undefined && <ErrorBox error={probeError} />}
          {probe && !probe.ok && (
            <p class="error" role="alert" data-probe="failed">
              Probe failed: {probe.error}
              {probe.hint ? ` (fix: ${probe.hint})` : ''}
            </p>
          )}
          {probe?.ok && (
            <dl class="facts probe" data-probe="ok">
              <dt>Codec</dt>
              <dd>{probe.codec}</dd>
              <dt>Size</dt>
              <dd class="probe-size">
                {probe.width}x{probe.height}
              </dd>
              <dt>Frame rate</dt>
              <dd>{probe.fps === null ? 'variable' : `${probe.fps} fps`}</dd>
              <dt>First frame</dt>
              <dd>{probe.firstFrameMs} ms</dd>
            </dl>
          )}
          <div class="row">
            <div>
              <label for="cam-decoder">Decoder</label>
              <select id="cam-decoder" value={decoder} onChange={(e) => setDecoder((e.target as HTMLSelectElement).value)}>
                {DECODERS.map((d) => (
                  <option key={d} value={d}>
                    {DECODER_LABELS[d]}
                  </option>
                ))}
                {initialDecoder === 'custom' && <option value="custom">custom (kept as in the file)</option>}
              </select>
            </div>
            <div>
              <label for="cam-fps">Frames per second</label>
              <input id="cam-fps" value={fps} inputMode="numeric" size={5} onInput={(e) => setFps((e.target as HTMLInputElement).value)} />
            </div>
          </div>
          <fieldset class="idle-decode">
            <legend>Idle decoding</legend>
            <label class="check">
              <input
                type="checkbox"
                checked={idle.shown === 'keyframes'}
                disabled={idleProblem !== undefined && idle.shown !== 'keyframes'}
                onChange={(e) => setIdleChoice((e.target as HTMLInputElement).checked ? 'keyframes' : 'all')}
              />{' '}
              Decode only key frames while the doorway is idle
            </label>
            <p class="muted">Saves most of an idle camera's CPU: the stream is still received, and motion or a face brings back every frame at once.</p>
            {existingIdle && !existingIdle.written && idleChoice === undefined && <p class="muted" data-idle-decode="default">Not set in the config file: the default, every frame decoded.</p>}
            {idleProblem &&
              (idle.shown === 'keyframes' ? (
                <p class="error" role="alert" data-idle-decode="refused">
                  The config check will refuse key frames only for this camera: {idleProblem.message} (fix: {idleProblem.hint}).
                </p>
              ) : (
                <p class="muted" data-idle-decode="unavailable">
                  Not available for this camera: {idleProblem.message}.
                </p>
              ))}
          </fieldset>
          <fieldset class="zones">
            <legend>Zones</legend>
            {zones.length === 0 && <p class="muted">No zone: gates decide on the whole frame.</p>}
            <ul>
              {zones.map((z, i) => (
                <li key={i}>
                  <input
                    aria-label={`Zone ${i + 1} id`}
                    value={z.id}
                    size={12}
                    onInput={(e) => {
                      setZones(replaceAt(zones, i, { ...z, id: (e.target as HTMLInputElement).value }));
                    }}
                  />{' '}
                  <span class="muted">{z.polygon.map((p) => `(${p[0]}, ${p[1]})`).join(' ')}</span>{' '}
                  <button type="button" onClick={() => setZones(removeAt(zones, i))} aria-label={`Remove zone ${z.id}`}>
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          </fieldset>
          <SaveProblem outcome={outcome} onRetry={retry} />
          {error !== undefined && <ErrorBox error={error} />}
          <div class="actions">
            <button type="submit" disabled={saving || id.trim() === ''}>
              {saving ? 'Saving…' : 'Save camera'}
            </button>
            <button type="button" onClick={onCancel}>
              Cancel
            </button>
          </div>
        </form>
        <div class="snapshot">
          {snapshot ? (
            <>
              <ZoneCanvas image={snapshot} zones={zones} onAdd={(polygon) => setZones([...zones, { id: `zone-${zones.length + 1}`, polygon }])} />
              <p class="muted">Drag a rectangle on the snapshot to add a zone (the area in front of a door where faces decide).</p>
            </>
          ) : (
            <p class="empty">Probe the stream to see a snapshot and draw zones on it.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function AdminCameras() {
  const { api } = useSession();
  const { entries, version, reload } = useConfigEntries(api);
  const live = useLoad(() => api.json<{ cameras: CameraView[] }>('/v1/cameras'), [api], 5000);
  const [editing, setEditing] = useState<{ entry: Entry | undefined; key: number } | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [removing, setRemoving] = useState<Entry | undefined>(undefined);

  if (entries.loading && !entries.data) return <Loading what="cameras" />;
  if (entries.error && !entries.data)
    return <ErrorBox error={entries.error instanceof ApiError && entries.error.status === 404 ? new Error('This box runs from a config built in code, not a file: cameras are edited in its YAML file only.') : entries.error} onRetry={entries.reload} />;
  const data = entries.data;
  if (!data) return null;
  const status = new Map((live.data?.cameras ?? []).map((c) => [c.id, c]));
  return (
    <>
      <h1>Cameras</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {data.cameras.length === 0 ? (
        <Empty>No camera in the config file yet.</Empty>
      ) : (
        <table class="cameras">
          <caption>Cameras in the config file (version {data.version})</caption>
          <thead>
            <tr>
              <th>Id</th>
              <th>Name</th>
              <th>Stream</th>
              <th>fps</th>
              <th>Decoder</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.cameras.map((c) => {
              const s = status.get(c.id);
              const h = s ? healthOf(s.status) : undefined;
              return (
                <tr key={c.id} data-camera={c.id}>
                  <td>{c.id}</td>
                  <td>{str(c.name)}</td>
                  <td class="url">{streamOf(c)}</td>
                  <td>{c.fps !== undefined ? String(c.fps) : '5'}</td>
                  <td>{typeof c.decoder === 'string' ? c.decoder : c.decoder ? 'custom' : 'cpu'}</td>
                  <td>{h ? <span class={`pill ${h.cls}`}>{h.label}</span> : <span class="muted">not running</span>}</td>
                  <td class="actions">
                    <button type="button" onClick={() => setEditing({ entry: c, key: Date.now() })} aria-label={`Edit ${c.id}`}>
                      Edit
                    </button>
                    <button
                      type="button"
                      class="danger"
                      onClick={() => setRemoving(c)}
                      aria-label={`Remove ${c.id}`}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <div class="actions">
        {!editing && (
          <button type="button" onClick={() => setEditing({ entry: undefined, key: Date.now() })}>
            Add camera
          </button>
        )}
        <a href="#/gate-editor">Edit gates</a>
      </div>
      {editing && (
        <CameraWizard
          key={editing.key}
          entry={editing.entry}
          version={version.current ?? data.version}
          reload={reload}
          onCancel={() => setEditing(undefined)}
          onSaved={(id, r) => {
            setEditing(undefined);
            setNotice(`Camera ${id} saved (config version ${r.kind === 'saved' ? r.version : ''})${r.kind === 'saved' && r.restart.length ? `; restart the service for: ${r.restart.join(', ')}` : ''}.`);
            entries.reload();
            live.reload();
          }}
        />
      )}
      {removing && (
        <RemoveEntryDialog
          key={removing.id}
          api={api}
          section="cameras"
          entry={removing}
          noun="camera"
          consequence="Its pipeline stops; past events stay."
          version={version.current ?? data.version}
          reload={reload}
          onClose={() => setRemoving(undefined)}
          onRemoved={(v) => {
            setNotice(`Camera ${removing.id} removed (config version ${v}).`);
            setRemoving(undefined);
            entries.reload();
            live.reload();
          }}
        />
      )}
    </>
  );
}

export function CamerasPage() {
  const { me } = useSession();
  if (!can(me, 'admin')) return <p class="error" role="alert">The Cameras page is for admins: cameras are part of the config file.</p>;
  return <AdminCameras />;
}

/** Events: the live timeline (WebSocket), filters, older pages from GET /v1/events, snapshots. */
import { useState } from 'preact/hooks';
import type { FgEvent } from '../api.ts';
import { AuthImg, can, Dialog, Empty, ErrorBox, errorText, formatTime, useSession } from '../ui.tsx';

const TYPE_FILTERS = [
  { id: 'default', label: 'Faces, gates, cameras, people', match: (t: string) => !t.startsWith('track.') && t !== 'system.health' },
  { id: 'gate', label: 'Gate decisions and actions', match: (t: string) => t.startsWith('gate.') },
  { id: 'face', label: 'Faces', match: (t: string) => t.startsWith('face.') },
  { id: 'camera', label: 'Camera health', match: (t: string) => t.startsWith('camera.') },
  { id: 'identity', label: 'People and unknowns changes (audit)', match: (t: string) => t.startsWith('identity.') || t.startsWith('unknown.') },
  { id: 'all', label: 'Everything (with tracks, health)', match: () => true },
] as const;

const PAGE_TYPES: Readonly<Record<string, readonly string[] | undefined>> = { default: ['face.*', 'gate.*', 'camera.*', 'identity.*', 'unknown.*', 'stage.*'], gate: ['gate.*'], face: ['face.*'], camera: ['camera.*'], identity: ['identity.*', 'unknown.*'] };
const PAGE_SIZE = 200;

function who(e: FgEvent): string {
  if (typeof e.data.name === 'string' && e.data.name) return e.data.name;
  if (typeof e.data.unknownId === 'string') return `unknown ${e.data.unknownId}`;
  if (e.type === 'face.unknown' || (e.type === 'gate.denied' && e.data.reason === 'unknown')) return 'unknown';
  return '';
}

function reasonOf(e: FgEvent): string {
  const d = e.data;
  // A liveness denial says what decided it: the track's score against the threshold, over how many frames.
  const ev = d.livenessEvidence as { score?: unknown; threshold?: unknown; frames?: unknown } | undefined;
  if (d.reason === 'liveness' && ev && typeof ev.score === 'number' && typeof ev.threshold === 'number') return `liveness: score ${ev.score.toFixed(2)} < ${ev.threshold.toFixed(2)}${typeof ev.frames === 'number' ? ` over ${ev.frames} frames` : ''}`;
  if (typeof d.reason === 'string') return d.reason;
  if (typeof d.action === 'string') return `${d.action}${typeof d.by === 'string' ? ` by ${d.by}` : ''}`;
  if (typeof d.actor === 'string') return `by ${d.actor}`;
  return '';
}

/**
 * 'Not this person' on a recognition (operator and admin): the event's face becomes a negative
 * anchor of the identity it was matched to, so that face stops matching it.
 */
function NotThisPerson({ e }: { e: FgEvent }) {
  const { api } = useSession();
  const [state, setState] = useState<{ busy: boolean; text?: string; ok?: boolean }>({ busy: false });
  const mark = async () => {
    setState({ busy: true });
    try {
      const r = await api.send<{ name: string; negativeAnchorsAdded: number; negativeAnchors: number }>('POST', `/v1/events/${e.id}/not-this-person`);
      setState({ busy: false, ok: true, text: r.negativeAnchorsAdded ? `marked: no longer matched to ${r.name}` : 'already marked' });
    } catch (err) {
      setState({ busy: false, ok: false, text: errorText(err) });
    }
  };
  if (state.ok) return <span class="not-this-person done" role="status">{state.text}</span>;
  return (
    <span class="not-this-person">
      <button type="button" disabled={state.busy} onClick={() => void mark()} title={`this face is not ${who(e) || 'the person it was matched to'}: stop matching it`}>
        {state.busy ? 'Marking…' : 'Not this person'}
      </button>
      {state.text && (
        <span class="error" role="alert">
          {' '}
          {state.text}
        </span>
      )}
    </span>
  );
}

/** Enrol the face an event kept (admin): a new person by name, through the same checks as an upload. */
function EnrolFromEvent({ e }: { e: FgEvent }) {
  const { api, me } = useSession();
  const policy = me.consent;
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [consented, setConsented] = useState(false);
  const [state, setState] = useState<{ busy: boolean; text?: string; ok?: boolean }>({ busy: false });
  if (state.ok) return <span class="enrolled" role="status">{state.text}</span>;
  if (!open)
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Enrol…
      </button>
    );
  const submit = async () => {
    if (!name.trim()) return setState({ busy: false, text: 'Give the person a name.' });
    if (policy?.required && !consented) return setState({ busy: false, text: 'Confirm the person’s consent first (this box requires it).' });
    setState({ busy: true });
    try {
      const body = { name: name.trim(), ...(policy && consented ? { consent: policy.notice, consentMethod: 'dashboard' } : {}) };
      const r = await api.verdict<{ ok?: boolean; message?: string; reason?: string; checks?: { message: string }[] }>(`/v1/events/${e.id}/enroll`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      if (r.status < 300 && r.body.ok !== false) setState({ busy: false, ok: true, text: `enrolled as ${name.trim()}` });
      else setState({ busy: false, text: `rejected: ${r.body.checks?.map((c) => c.message).join('; ') || r.body.message || r.body.reason || r.status}` });
    } catch (err) {
      setState({ busy: false, text: errorText(err) });
    }
  };
  return (
    <form class="enrol-from-event" onSubmit={(ev) => (ev.preventDefault(), void submit())}>
      <label>
        Name
        <input value={name} onInput={(ev) => setName((ev.target as HTMLInputElement).value)} />
      </label>
      {policy && (
        <label class="consent">
          <input type="checkbox" checked={consented} onChange={(ev) => setConsented((ev.target as HTMLInputElement).checked)} /> {policy.notice}
        </label>
      )}
      <button type="submit" disabled={state.busy}>
        {state.busy ? 'Enrolling…' : 'Enrol this face'}
      </button>
      {state.text && (
        <span class="error" role="alert">
          {' '}
          {state.text}
        </span>
      )}
    </form>
  );
}

export function EventsPage() {
  const { api, events, snapshotOfTrack, addEvents, me } = useSession();
  const operator = can(me, 'operator');
  const admin = can(me, 'admin');
  const [type, setType] = useState<(typeof TYPE_FILTERS)[number]['id']>('default');
  const [camera, setCamera] = useState('');
  const [gate, setGate] = useState('');
  const [person, setPerson] = useState('');
  const [open, setOpen] = useState<{ snap: string; title: string } | undefined>(undefined);
  const [older, setOlder] = useState<{ loading: boolean; error?: unknown; done: boolean }>({ loading: false, done: false });

  const tf = TYPE_FILTERS.find((f) => f.id === type) ?? TYPE_FILTERS[0];
  const cameras = [...new Set(events.map((e) => e.cameraId).filter((x): x is string => !!x))].sort();
  const gates = [...new Set(events.map((e) => e.gateId).filter((x): x is string => !!x))].sort();
  const p = person.trim().toLowerCase();
  const rows = events.filter((e) => tf.match(e.type) && (!camera || e.cameraId === camera) && (!gate || e.gateId === gate) && (!p || who(e).toLowerCase().includes(p) || e.identityId === person.trim())).slice(0, 500);

  const loadOlder = async () => {
    setOlder({ loading: true, done: false });
    try {
      const oldest = events[events.length - 1];
      const q = new URLSearchParams({ order: 'desc', limit: String(PAGE_SIZE) });
      if (oldest) q.set('to', String(oldest.timeMs + 1));
      for (const t of PAGE_TYPES[type] ?? []) q.append('type', t);
      if (camera) q.set('camera', camera);
      if (gate) q.set('gate', gate);
      const r = await api.json<{ events: FgEvent[] }>(`/v1/events?${q}`);
      const known = new Set(events.map((e) => e.id));
      const fresh = r.events.filter((e) => !known.has(e.id));
      addEvents(fresh);
      // A short page, or one holding only rows already shown: nothing older is left.
      setOlder({ loading: false, done: r.events.length < PAGE_SIZE || fresh.length === 0 });
    } catch (error) {
      setOlder({ loading: false, error, done: false });
    }
  };

  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">Events</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Event filters">
        <label>
          Type
          <select value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as typeof type)}>
            {TYPE_FILTERS.map((f) => (
              <option key={f.id} value={f.id}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Camera
          <select value={camera} onChange={(e) => setCamera((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {cameras.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          Gate
          <select value={gate} onChange={(e) => setGate((e.target as HTMLSelectElement).value)}>
            <option value="">all</option>
            {gates.map((g) => (
              <option key={g}>{g}</option>
            ))}
          </select>
        </label>
        <label>
          Person
          <input type="search" value={person} placeholder="name or id" onInput={(e) => setPerson((e.target as HTMLInputElement).value)} />
        </label>
      </form>
      {rows.length === 0 ? (
        <Empty>No events match yet. They appear here live as people walk up to the cameras.</Empty>
      ) : (
        <table class="events">
          <thead>
            <tr>
              <th scope="col">Snapshot</th>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">Name</th>
              <th scope="col">Score</th>
              <th scope="col">Masked</th>
              <th scope="col">Camera</th>
              <th scope="col">Gate</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => {
              const snap = typeof e.data.snapshotId === 'string' ? e.data.snapshotId : e.trackId ? snapshotOfTrack.get(e.trackId) : undefined;
              const name = who(e);
              return (
                <tr key={e.id} data-event-id={e.id} data-type={e.type} class={e.type.replace('.', '-')}>
                  <td>{snap ? <AuthImg path={`/v1/snapshots/${snap}`} alt={`face of ${name || 'unknown'}`} class="thumb" onClick={() => setOpen({ snap, title: `${e.type} ${name} ${formatTime(e.timeMs)}` })} /> : null}</td>
                  <td>
                    <time dateTime={e.time}>{formatTime(e.timeMs)}</time>
                  </td>
                  <td>{e.type}</td>
                  <td class="name">{name}</td>
                  <td>{typeof e.data.score === 'number' ? e.data.score.toFixed(2) : ''}</td>
                  <td>{e.data.masked === true ? 'masked' : e.data.masked === false ? 'no' : ''}</td>
                  <td>{e.cameraId ?? ''}</td>
                  <td>{e.gateId ?? ''}</td>
                  <td>
                    {reasonOf(e)}
                    {operator && e.type === 'face.recognized' && typeof e.data.snapshotId === 'string' && <NotThisPerson e={e} />}
                    {admin && e.type === 'face.unknown' && typeof e.data.snapshotId === 'string' && <EnrolFromEvent e={e} />}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <p>
        <button type="button" onClick={() => void loadOlder()} disabled={older.loading || older.done}>
          {older.loading ? 'Loading older events…' : older.done ? 'No older events' : 'Load older events'}
        </button>
      </p>
      {older.error !== undefined && <ErrorBox error={older.error} onRetry={() => void loadOlder()} />}
      {open && (
        <Dialog title={open.title} onClose={() => setOpen(undefined)}>
          <AuthImg path={`/v1/snapshots/${open.snap}?kind=frame`} alt="full frame at the moment of the event" class="fullframe" />
        </Dialog>
      )}
    </section>
  );
}

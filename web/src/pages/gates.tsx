/** Gates: state, the door behind the gate (release / hold / lock for operators, modes for admins), last decisions, manual open / hold-open / close with a reason (operators). */
import { useEffect, useState } from 'preact/hooks';
import type { FgEvent } from '../api.ts';
import { can, Empty, ErrorBox, formatTime, Loading, useLoad, useSession } from '../ui.tsx';

interface Gate {
  readonly id: string;
  readonly name?: string;
  readonly cameras: readonly string[];
  readonly manual: { mode: string; by: string; since: number; until?: number } | null;
  /** Anti-passback: a local pair, or an area (shared across boxes in fleet mode) with its state. */
  readonly antiPassback?: { area?: string; pairedGateId?: string; direction: string; state?: 'local' | 'fresh' | 'stale'; reason?: string } | null;
}

function AntiPassback({ ap }: { ap: NonNullable<Gate['antiPassback']> }) {
  if (ap.area === undefined) return <p>Anti-passback: {ap.direction} of the pair with {ap.pairedGateId}</p>;
  const pill = ap.state === 'stale' ? 'warn' : 'ok';
  const says = ap.state === 'stale' ? `stale: deciding from this box's passages${ap.reason ? ` (${ap.reason})` : ''}` : ap.state === 'fresh' ? 'in sync with the fleet' : 'this box';
  return (
    <p>
      Anti-passback: {ap.direction} of area <strong>{ap.area}</strong> <span class={`pill ${pill}`}>{says}</span>
    </p>
  );
}

/** What the door.* events (newest first) say about a gate's door; undefined when none was seen. */
export interface DoorView {
  readonly contact: 'open' | 'closed' | 'unknown';
  readonly lock: 'released' | 'locked' | 'unknown';
  readonly mode: string;
  /** Alarms raised since the door last closed (forced_open, held_open), and a lock relay fault. */
  readonly alarms: readonly string[];
  readonly lockFault: string | undefined;
  readonly sinceMs: number;
}

export function doorView(newestFirst: readonly FgEvent[]): DoorView | undefined {
  const door = newestFirst.filter((e) => e.type.startsWith('door.'));
  if (door.length === 0) return undefined;
  const first = (...types: string[]) => door.find((e) => types.includes(e.type));
  const contactEvent = first('door.opened', 'door.closed');
  const lockEvent = first('door.released', 'door.locked');
  const modeEvent = first('door.mode_changed');
  const closedAt = door.findIndex((e) => e.type === 'door.closed');
  const sinceClosed = closedAt < 0 ? door : door.slice(0, closedAt);
  const alarms = [...new Set(sinceClosed.filter((e) => e.type === 'door.forced_open' || e.type === 'door.held_open').map((e) => e.type.slice(5)))];
  const lockAt = lockEvent ? door.indexOf(lockEvent) : door.length;
  const fault = door.slice(0, lockAt + 1).find((e) => e.type === 'door.lock_failed');
  return {
    contact: contactEvent ? (contactEvent.type === 'door.opened' ? 'open' : 'closed') : 'unknown',
    lock: lockEvent ? (lockEvent.type === 'door.released' ? 'released' : 'locked') : 'unknown',
    mode: typeof modeEvent?.data.mode === 'string' ? modeEvent.data.mode : 'normal',
    alarms,
    lockFault: fault && typeof fault.data.error === 'string' ? fault.data.error : undefined,
    sinceMs: door[0].timeMs,
  };
}

/** The door as the box has it now (GET /v1/gates/:id/door): survives a restart, unlike the page's events. */
interface DoorNow {
  readonly contact: 'open' | 'closed' | 'unknown';
  readonly locked: boolean;
  readonly holdOpen: boolean;
  readonly mode: string;
  readonly operatorMode: string;
  readonly alarms: readonly string[];
}

const DOOR_MODES = [
  ['normal', 'Normal'],
  ['lockdown', 'Lockdown'],
  ['unlock-all', 'Unlock all'],
] as const;

function DoorPanel({ gateId }: { gateId: string }) {
  const { api, events, addEvents, me } = useSession();
  const [now, setNow] = useState<DoorNow | null | undefined>(undefined);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  // The door's recent history once, so the state shows before the next door event arrives.
  useEffect(() => {
    api
      .json<{ events: FgEvent[] }>(`/v1/events?gate=${encodeURIComponent(gateId)}&type=door.*&order=desc&limit=50`)
      .then((r) => addEvents(r.events))
      .catch(() => {});
  }, [gateId]);
  const mine = events.filter((e) => e.gateId === gateId);
  const latestDoorEvent = mine.find((e) => e.type.startsWith('door.'))?.id;
  // The box's own state again after every door event (a gate without a door answers 404).
  useEffect(() => {
    api
      .json<DoorNow>(`/v1/gates/${encodeURIComponent(gateId)}/door`)
      .then(setNow)
      .catch(() => setNow(null));
  }, [gateId, latestDoorEvent]);
  const fromEvents = doorView(mine);
  if (!now && !fromEvents) return null;
  const contact = now?.contact ?? fromEvents?.contact ?? 'unknown';
  const lock = now ? (now.locked ? 'locked' : 'released') : (fromEvents?.lock ?? 'unknown');
  const mode = now?.mode ?? fromEvents?.mode ?? 'normal';
  const alarms = now ? now.alarms : (fromEvents?.alarms ?? []);
  const lockFault = fromEvents?.lockFault;
  const alarm = alarms.length > 0 || lockFault !== undefined;
  const send = async (path: string, body: Record<string, unknown>, what: string) => {
    setBusy(true);
    setError(undefined);
    try {
      await api.send('POST', `/v1/gates/${encodeURIComponent(gateId)}/door/${path}`, { ...body, reason: reason.trim() });
      setDone(what);
      setReason('');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="door" data-door={gateId}>
      <p>
        Door: <span class={`pill ${contact === 'open' ? 'warn' : 'ok'}`}>{contact}</span>
        <span class={`pill ${lock === 'released' ? 'warn' : 'ok'}`}>{lock === 'released' ? 'unlocked' : lock}</span>
        {mode !== 'normal' && <span class={`pill ${mode === 'lockdown' ? 'bad' : 'warn'}`}>{mode}</span>}
        {fromEvents && <span class="muted"> since {formatTime(fromEvents.sinceMs)}</span>}
      </p>
      {alarm && (
        <p role="alert">
          {alarms.map((a) => (
            <span key={a} class="pill bad">
              {a === 'forced_open' ? 'forced open' : 'held open'}
            </span>
          ))}
          {lockFault !== undefined && <span class="pill bad" title={lockFault}>lock relay failed</span>}
        </p>
      )}
      {now && can(me, 'operator') && (
        <form onSubmit={(e) => e.preventDefault()} aria-label={`door control of ${gateId}`}>
          <label for={`door-reason-${gateId}`}>Door reason</label>
          <input id={`door-reason-${gateId}`} value={reason} maxLength={256} placeholder="courier, drill…" onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          <div class="actions">
            <button type="button" disabled={busy} onClick={() => void send('open', {}, 'door released')}>Release door</button>
            <button type="button" disabled={busy} onClick={() => void send('hold-open', {}, 'door held open')}>Hold door open</button>
            <button type="button" disabled={busy} onClick={() => void send('close', {}, 'door locked')}>Lock door</button>
          </div>
          {can(me, 'admin') && (
            <div class="actions" role="group" aria-label={`door mode of ${gateId}`}>
              {DOOR_MODES.map(([m, text]) => (
                <button key={m} type="button" aria-pressed={now.operatorMode === m} disabled={busy || now.operatorMode === m} onClick={() => void send('mode', { mode: m }, `mode ${m}`)}>
                  {text}
                </button>
              ))}
            </div>
          )}
          {done && <p class="notice" role="status">{done}</p>}
        </form>
      )}
      {error !== undefined && <ErrorBox error={error} />}
    </div>
  );
}

function GateCard({ gate, operator, onChanged }: { gate: Gate; operator: boolean; onChanged: () => void }) {
  const { api, events } = useSession();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const recent = events.filter((e) => e.gateId === gate.id && e.type.startsWith('gate.')).slice(0, 8);
  const act = async (action: 'open' | 'hold-open' | 'close') => {
    setBusy(true);
    setError(undefined);
    try {
      await api.send('POST', `/v1/gates/${encodeURIComponent(gate.id)}/${action}`, { reason: reason.trim() });
      setDone(`${action} sent`);
      setReason('');
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const label = (e: FgEvent) => `${e.type.replace('gate.', '')} ${typeof e.data.name === 'string' ? e.data.name : ''} ${typeof e.data.reason === 'string' ? `(${e.data.reason})` : ''}`;
  return (
    <li class="card gate" data-gate={gate.id}>
      <h2>{gate.name ?? gate.id}</h2>
      <p>
        State: <span class={`pill ${gate.manual ? 'warn' : 'ok'}`}>{gate.manual ? `held open by ${gate.manual.by}` : 'automatic'}</span> · cameras {gate.cameras.join(', ')}
      </p>
      {gate.antiPassback && <AntiPassback ap={gate.antiPassback} />}
      <DoorPanel gateId={gate.id} />
      <h3>Last decisions</h3>
      {recent.length ? (
        <ul class="decisions">
          {recent.map((e) => (
            <li key={e.id}>
              <time dateTime={e.time}>{formatTime(e.timeMs)}</time> {label(e)}
            </li>
          ))}
        </ul>
      ) : (
        <Empty>No decision since the page opened.</Empty>
      )}
      {operator ? (
        <form onSubmit={(e) => e.preventDefault()} aria-label={`manual control of ${gate.id}`}>
          <label for={`reason-${gate.id}`}>Reason</label>
          <input id={`reason-${gate.id}`} value={reason} maxLength={500} placeholder="delivery, fire drill…" onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          <div class="actions">
            <button type="button" disabled={busy} onClick={() => void act('open')}>Open</button>
            <button type="button" disabled={busy} onClick={() => void act('hold-open')}>Hold open</button>
            <button type="button" disabled={busy} onClick={() => void act('close')}>Close</button>
          </div>
          {done && <p class="notice" role="status">{done}</p>}
        </form>
      ) : (
        <p class="muted">Manual control needs the operator role.</p>
      )}
      {error !== undefined && <ErrorBox error={error} />}
    </li>
  );
}

export function GatesPage() {
  const { api, me } = useSession();
  const list = useLoad(() => api.json<{ gates: Gate[] }>('/v1/gates').then((r) => r.gates), [], 5000);
  return (
    <section aria-labelledby="gates-title">
      <h1 id="gates-title">Gates</h1>
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.loading && !list.data && <Loading what="gates" />}
      {list.data && list.data.length === 0 && <Empty>No gates are configured.</Empty>}
      <ul class="gates">
        {list.data?.map((g) => (
          <GateCard key={g.id} gate={g} operator={can(me, 'operator')} onChanged={list.reload} />
        ))}
      </ul>
    </section>
  );
}

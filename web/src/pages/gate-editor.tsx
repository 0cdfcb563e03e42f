/**
 * Gate editor (admin): the gates of the config file; each one's cameras and zone, who may pass
 * (groups and people), weekly schedule and holidays, mask and liveness policy, confirmation,
 * anti-passback and actuation (webhook, command) with a "Test actuation" of the saved gate. Saved
 * through the config editor API like the cameras (If-Match, 409 conflict, 422 with fixes).
 */
import { useState } from 'preact/hooks';
import { saveEntry, type Entry, type SaveOutcome } from '../config-api.ts';
import { can, Empty, ErrorBox, Loading, removeAt, replaceAt, useSession } from '../ui.tsx';
import { RemoveEntryDialog, SaveProblem, useConfigEntries } from '../config-entries.tsx';
import type { Zone } from './cameras.tsx';
import { isRecord } from '../../../src/lib/records.ts';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

interface WeeklyRow {
  days: string[];
  start: string;
  end: string;
}
interface Holiday {
  date: string;
  /** Closed all day, or open only in start-end. */
  closed: boolean;
  start: string;
  end: string;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (isRecord(v) ? v : {});
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
/** `a, b ,c` -> ['a', 'b', 'c'] */
export const listOf = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
/** A number field: a number when it reads as one, the text otherwise (the server says what is wrong), undefined when empty. */
const numberOr = (text: string): number | string | undefined => (text.trim() === '' ? undefined : Number.isFinite(Number(text)) ? Number(text) : text);

function setOrDelete(o: Rec, key: string, v: unknown): void {
  if (v === undefined) delete o[key];
  else o[key] = v;
}

interface TestResult {
  readonly ok: boolean;
  readonly outcomes: readonly { target: string; ok: boolean; status?: number; exitCode?: number | null; error?: string; durationMs: number }[];
}

export function GateForm({ entry, cameras, gates, version, reload, onSaved, onCancel }: { entry: Entry | undefined; cameras: readonly Entry[]; gates: readonly Entry[]; version: string; reload: () => Promise<string>; onSaved: (id: string, r: SaveOutcome) => void; onCancel: () => void }) {
  const { api } = useSession();
  const e = rec(entry);
  const allow = rec(e.allow);
  const sched = e.schedule === undefined ? undefined : rec(e.schedule);
  const live = rec(e.liveness);
  const conf = rec(e.confirmation);
  const ap = e.antiPassback === undefined ? undefined : rec(e.antiPassback);
  const act = rec(e.actuation);
  const hook = act.webhook === undefined ? undefined : rec(act.webhook);
  const cmd = act.command === undefined ? undefined : rec(act.command);

  const [id, setId] = useState(entry?.id ?? '');
  const [name, setName] = useState(str(e.name));
  const [cams, setCams] = useState<string[]>(strs(e.cameras));
  const [zone, setZone] = useState(str(e.zone));
  const [groups, setGroups] = useState(strs(allow.groups).join(', '));
  const [people, setPeople] = useState(strs(allow.identities).join(', '));
  const [scheduled, setScheduled] = useState(sched !== undefined);
  const [timeZone, setTimeZone] = useState(str(sched?.timeZone) || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [weekly, setWeekly] = useState<WeeklyRow[]>(
    Array.isArray(sched?.weekly) ? (sched.weekly as unknown[]).map((w) => ({ days: strs(rec(w).days), start: str(rec(w).start), end: str(rec(w).end) })) : [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '07:00', end: '19:00' }],
  );
  const [holidays, setHolidays] = useState<Holiday[]>(
    Array.isArray(sched?.exceptions)
      ? (sched.exceptions as unknown[]).map((x) => {
          const w = rec(Array.isArray(rec(x).windows) ? (rec(x).windows as unknown[])[0] : undefined);
          return { date: str(rec(x).date), closed: rec(x).closed === true, start: str(w.start), end: str(w.end) };
        })
      : [],
  );
  const [maskPolicy, setMaskPolicy] = useState(str(e.maskPolicy) || 'allow');
  const [liveness, setLiveness] = useState(live.required !== false);
  const [livenessThreshold, setLivenessThreshold] = useState(str(live.threshold));
  const [confN, setConfN] = useState(str(conf.n ?? 2));
  const [confM, setConfM] = useState(str(conf.m ?? 3));
  const [minScore, setMinScore] = useState(str(conf.minScore));
  const [cooldown, setCooldown] = useState(str(e.cooldownMs ?? 5000));
  const [apKind, setApKind] = useState<'none' | 'pair' | 'area'>(ap === undefined ? 'none' : ap.area !== undefined ? 'area' : 'pair');
  const [apPair, setApPair] = useState(str(ap?.pairedGateId));
  const [apArea, setApArea] = useState(str(ap?.area));
  const [apDirection, setApDirection] = useState(str(ap?.direction) || 'entry');
  const [hookUrl, setHookUrl] = useState(str(hook?.url));
  const [hookSecret, setHookSecret] = useState(str(hook?.secret));
  const [command, setCommand] = useState(strs(cmd?.argv).join('\n'));
  const [saving, setSaving] = useState(false);
  const [outcome, setOutcome] = useState<SaveOutcome | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [current, setCurrent] = useState(version);
  const [testing, setTesting] = useState(false);
  const [test, setTest] = useState<TestResult | undefined>(undefined);
  const [testError, setTestError] = useState<unknown>(undefined);

  const zonesOfCameras = [...new Set(cameras.filter((c) => cams.includes(c.id)).flatMap((c) => (Array.isArray(c.zones) ? (c.zones as Zone[]).map((z) => z.id) : [])))];

  /** The gate as the file will have it: the entry with the edited keys replaced (others kept). */
  const value = (): Entry => {
    const v: Rec = { ...e };
    v.id = id.trim();
    setOrDelete(v, 'name', name.trim() || undefined);
    v.cameras = cams;
    setOrDelete(v, 'zone', zone || undefined);
    // A key the file did not have is written only when it differs from the default: a save
    // changes what the person changed, not every default into the file.
    const put = (key: string, next: unknown, isDefault: boolean): void => {
      if (e[key] === undefined && isDefault) delete v[key];
      else v[key] = next;
    };
    put('allow', { ...allow, groups: listOf(groups), identities: listOf(people) }, listOf(groups).length === 0 && listOf(people).length === 0);
    if (scheduled) {
      const exceptions = holidays.map((h) => (h.closed ? { date: h.date, closed: true } : { date: h.date, windows: [{ start: h.start, end: h.end }] }));
      v.schedule = { ...rec(sched), timeZone: timeZone.trim(), weekly: weekly.map((w) => ({ days: w.days, start: w.start, end: w.end })), exceptions };
    } else delete v.schedule;
    put('maskPolicy', maskPolicy, maskPolicy === 'allow');
    const l: Rec = { ...live, required: liveness };
    setOrDelete(l, 'threshold', numberOr(livenessThreshold));
    put('liveness', l, liveness && l.threshold === undefined);
    const c: Rec = { ...conf, n: numberOr(confN) ?? 2, m: numberOr(confM) ?? 3 };
    setOrDelete(c, 'minScore', numberOr(minScore));
    put('confirmation', c, c.n === 2 && c.m === 3 && c.minScore === undefined && c.minScoreMasked === undefined);
    const cd = numberOr(cooldown);
    if (cd === undefined) delete v.cooldownMs;
    else put('cooldownMs', cd, cd === 5000);
    if (apKind === 'none') delete v.antiPassback;
    else {
      const a: Rec = { ...rec(ap), direction: apDirection };
      delete a.pairedGateId;
      delete a.area;
      if (apKind === 'pair') a.pairedGateId = apPair;
      else a.area = apArea.trim();
      v.antiPassback = a;
    }
    const argv = command
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
    const a: Rec = { ...act };
    if (hookUrl.trim()) a.webhook = { ...rec(hook), url: hookUrl.trim(), secret: hookSecret };
    else delete a.webhook;
    if (argv.length) a.command = { ...rec(cmd), argv };
    else delete a.command;
    if (a.webhook === undefined && a.command === undefined) delete v.actuation;
    else v.actuation = a;
    return v as Entry;
  };

  const save = async (at: string) => {
    setSaving(true);
    setError(undefined);
    setOutcome(undefined);
    try {
      const v = value();
      const r = await saveEntry(api, 'gates', v.id, v, at);
      setOutcome(r);
      if (r.kind === 'saved') onSaved(v.id, r);
    } catch (err) {
      setError(err);
    } finally {
      setSaving(false);
    }
  };
  const retry = async () => {
    try {
      const v = await reload();
      setCurrent(v);
      await save(v);
    } catch (err) {
      setError(err);
    }
  };
  const testActuation = async () => {
    if (!entry) return;
    setTesting(true);
    setTest(undefined);
    setTestError(undefined);
    try {
      setTest(await api.send<TestResult>('POST', `/v1/gates/${encodeURIComponent(entry.id)}/test-actuation`, {}));
    } catch (err) {
      setTestError(err);
    } finally {
      setTesting(false);
    }
  };
  const input = (set: (s: string) => void) => (ev: Event) => set((ev.target as HTMLInputElement).value);

  return (
    <section class="wizard card" aria-labelledby="gate-form-title">
      <h2 id="gate-form-title">{entry ? `Edit gate ${entry.id}` : 'Add gate'}</h2>
      <form
        class="gate-form"
        onSubmit={(ev) => {
          ev.preventDefault();
          void save(current);
        }}
      >
        <div class="grid2">
          <div>
            <label for="gate-id">Gate id</label>
            <input id="gate-id" value={id} readOnly={entry !== undefined} placeholder="front-door" onInput={input(setId)} />
          </div>
          <div>
            <label for="gate-name">Gate name</label>
            <input id="gate-name" value={name} placeholder="Front door" onInput={input(setName)} />
          </div>
        </div>
        <fieldset>
          <legend>Cameras</legend>
          {cameras.length === 0 && <p class="muted">No camera in the config yet: add one on the Cameras page.</p>}
          {cameras.map((c) => (
            <label key={c.id} class="check">
              <input type="checkbox" checked={cams.includes(c.id)} onChange={(ev) => setCams((ev.target as HTMLInputElement).checked ? [...cams, c.id] : cams.filter((x) => x !== c.id))} /> {c.id}
              {typeof c.name === 'string' ? ` (${c.name})` : ''}
            </label>
          ))}
          <label for="gate-zone">Zone</label>
          <select id="gate-zone" value={zone} onChange={(ev) => setZone((ev.target as HTMLSelectElement).value)}>
            <option value="">the whole frame</option>
            {[...new Set([...zonesOfCameras, ...(zone ? [zone] : [])])].map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </fieldset>
        <fieldset>
          <legend>Who may pass</legend>
          <label for="gate-groups">Allowed groups (comma-separated)</label>
          <input id="gate-groups" value={groups} placeholder="staff, cleaning" onInput={input(setGroups)} />
          <label for="gate-people">Allowed people (ids or names, comma-separated)</label>
          <input id="gate-people" value={people} onInput={input(setPeople)} />
        </fieldset>
        <fieldset>
          <legend>Schedule</legend>
          <label class="check">
            <input type="checkbox" checked={!scheduled} onChange={(ev) => setScheduled(!(ev.target as HTMLInputElement).checked)} /> Always (no schedule)
          </label>
          {scheduled && (
            <>
              <label for="gate-tz">Time zone</label>
              <input id="gate-tz" value={timeZone} placeholder="Europe/Berlin" onInput={input(setTimeZone)} />
              <table class="schedule">
                <caption>Weekly</caption>
                <tbody>
                  {weekly.map((w, i) => (
                    <tr key={i}>
                      <td>
                        {DAYS.map((d) => (
                          <label key={d} class="check day">
                            <input
                              type="checkbox"
                              aria-label={`row ${i + 1} ${d}`}
                              checked={w.days.includes(d)}
                              onChange={(ev) => {
                                setWeekly(replaceAt(weekly, i, { ...w, days: (ev.target as HTMLInputElement).checked ? DAYS.filter((x) => x === d || w.days.includes(x)) : w.days.filter((x) => x !== d) }));
                              }}
                            />
                            {d}
                          </label>
                        ))}
                      </td>
                      <td>
                        <input
                          aria-label={`row ${i + 1} from`}
                          value={w.start}
                          size={5}
                          onInput={(ev) => {
                            setWeekly(replaceAt(weekly, i, { ...w, start: (ev.target as HTMLInputElement).value }));
                          }}
                        />
                        {' – '}
                        <input
                          aria-label={`row ${i + 1} to`}
                          value={w.end}
                          size={5}
                          onInput={(ev) => {
                            setWeekly(replaceAt(weekly, i, { ...w, end: (ev.target as HTMLInputElement).value }));
                          }}
                        />
                      </td>
                      <td>
                        <button type="button" onClick={() => setWeekly(removeAt(weekly, i))} aria-label={`Remove row ${i + 1}`}>
                          Remove
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <button type="button" onClick={() => setWeekly([...weekly, { days: ['sat'], start: '09:00', end: '13:00' }])}>
                Add weekly row
              </button>
              <table class="schedule">
                <caption>Holidays and exceptions</caption>
                <tbody>
                  {holidays.map((h, i) => (
                    <tr key={i}>
                      <td>
                        <input
                          aria-label={`holiday ${i + 1} date`}
                          value={h.date}
                          placeholder="YYYY-MM-DD"
                          size={10}
                          onInput={(ev) => {
                            setHolidays(replaceAt(holidays, i, { ...h, date: (ev.target as HTMLInputElement).value }));
                          }}
                        />
                      </td>
                      <td>
                        <label class="check">
                          <input
                            type="checkbox"
                            checked={h.closed}
                            onChange={(ev) => {
                              setHolidays(replaceAt(holidays, i, { ...h, closed: (ev.target as HTMLInputElement).checked }));
                            }}
                          />{' '}
                          closed all day
                        </label>
                        {!h.closed && (
                          <>
                            {' open '}
                            <input aria-label={`holiday ${i + 1} from`} value={h.start} size={5} onInput={(ev) => setHolidays(replaceAt(holidays, i, { ...h, start: (ev.target as HTMLInputElement).value }))} />
                            {' – '}
                            <input aria-label={`holiday ${i + 1} to`} value={h.end} size={5} onInput={(ev) => setHolidays(replaceAt(holidays, i, { ...h, end: (ev.target as HTMLInputElement).value }))} />
                          </>
                        )}
                      </td>
                      <td>
                        <button type="button" onClick={() => setHolidays(removeAt(holidays, i))} aria-label={`Remove holiday ${i + 1}`}>
                          Remove
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <button type="button" onClick={() => setHolidays([...holidays, { date: '', closed: true, start: '09:00', end: '12:00' }])}>
                Add holiday
              </button>
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>Policy</legend>
          <div class="grid2">
            <div>
              <label for="gate-mask">Mask policy</label>
              <select id="gate-mask" value={maskPolicy} onChange={(ev) => setMaskPolicy((ev.target as HTMLSelectElement).value)}>
                <option value="allow">allow: masked faces may pass</option>
                <option value="require">require: only masked faces pass</option>
                <option value="deny">deny: masked faces are refused</option>
              </select>
            </div>
            <div>
              <label class="check">
                <input type="checkbox" checked={liveness} onChange={(ev) => setLiveness((ev.target as HTMLInputElement).checked)} /> Liveness required (refuse photos and screens)
              </label>
              <label for="gate-liveness-threshold">Liveness threshold (empty: the model's calibrated one)</label>
              <input id="gate-liveness-threshold" value={livenessThreshold} size={6} onInput={input(setLivenessThreshold)} />
            </div>
            <div>
              <label for="gate-conf-n">Confirmation: the same person on n</label>
              <input id="gate-conf-n" value={confN} size={3} onInput={input(setConfN)} />
              <label for="gate-conf-m">of the last m recognitions</label>
              <input id="gate-conf-m" value={confM} size={3} onInput={input(setConfM)} />
            </div>
            <div>
              <label for="gate-min-score">Minimum score (empty: the recognizer's threshold)</label>
              <input id="gate-min-score" value={minScore} size={6} onInput={input(setMinScore)} />
              <label for="gate-cooldown">Cooldown (ms)</label>
              <input id="gate-cooldown" value={cooldown} size={7} onInput={input(setCooldown)} />
            </div>
          </div>
        </fieldset>
        <fieldset>
          <legend>Anti-passback</legend>
          <label for="gate-ap">Anti-passback</label>
          <select id="gate-ap" value={apKind} onChange={(ev) => setApKind((ev.target as HTMLSelectElement).value as typeof apKind)}>
            <option value="none">off</option>
            <option value="pair">an entry/exit pair on this box</option>
            <option value="area">an area (shared with other gates and boxes)</option>
          </select>
          {apKind === 'pair' && (
            <>
              <label for="gate-ap-pair">Paired gate</label>
              <select id="gate-ap-pair" value={apPair} onChange={(ev) => setApPair((ev.target as HTMLSelectElement).value)}>
                <option value="">choose…</option>
                {gates
                  .filter((g) => g.id !== id)
                  .map((g) => (
                    <option key={g.id} value={g.id}>
                      {g.id}
                    </option>
                  ))}
              </select>
            </>
          )}
          {apKind === 'area' && (
            <>
              <label for="gate-ap-area">Area</label>
              <input id="gate-ap-area" value={apArea} placeholder="hq-lobby" onInput={input(setApArea)} />
            </>
          )}
          {apKind !== 'none' && (
            <>
              <label for="gate-ap-dir">Direction</label>
              <select id="gate-ap-dir" value={apDirection} onChange={(ev) => setApDirection((ev.target as HTMLSelectElement).value)}>
                <option value="entry">entry</option>
                <option value="exit">exit</option>
              </select>
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>Actuation</legend>
          <label for="gate-hook-url">Webhook URL</label>
          <input id="gate-hook-url" value={hookUrl} placeholder="https://door-controller.local/open" onInput={input(setHookUrl)} />
          <label for="gate-hook-secret">Webhook secret (signs each request; at least 16 characters)</label>
          <input id="gate-hook-secret" type="password" value={hookSecret} autocomplete="new-password" onInput={input(setHookSecret)} />
          <label for="gate-command">Command (program and arguments, one per line; run without a shell)</label>
          <textarea id="gate-command" rows={3} value={command} onInput={input(setCommand)} />
          <p class="muted">MQTT: every decision is already published on the events.outputs.mqtt broker (docs/mqtt.md); a door lock on MQTT is set under the gate's door in the file.</p>
          {entry && (
            <div class="actions">
              <button type="button" onClick={testActuation} disabled={testing}>
                {testing ? 'Testing…' : 'Test actuation'}
              </button>
              <span class="muted">Opens the door once with the saved gate's actuation (audited with your id).</span>
            </div>
          )}
          {testError !== undefined && <ErrorBox error={testError} />}
          {test && (
            <ul class="verdicts" role="status" data-test-actuation={test.ok ? 'ok' : 'failed'}>
              {test.outcomes.map((o, i) => (
                <li key={i} class={o.ok ? 'ok' : 'bad'}>
                  {o.target}: {o.ok ? 'ok' : 'failed'}
                  {o.status !== undefined ? ` (HTTP ${o.status})` : ''}
                  {o.exitCode !== undefined ? ` (exit ${o.exitCode})` : ''}
                  {o.error ? `: ${o.error}` : ''} in {Math.round(o.durationMs)} ms
                </li>
              ))}
            </ul>
          )}
        </fieldset>
        <SaveProblem outcome={outcome} onRetry={retry} />
        {error !== undefined && <ErrorBox error={error} />}
        <div class="actions">
          <button type="submit" disabled={saving || id.trim() === ''}>
            {saving ? 'Saving…' : 'Save gate'}
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </section>
  );
}

function AdminGates() {
  const { api } = useSession();
  const { entries, version, reload } = useConfigEntries(api);
  const [editing, setEditing] = useState<{ entry: Entry | undefined; key: number } | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [removing, setRemoving] = useState<Entry | undefined>(undefined);
  if (entries.loading && !entries.data) return <Loading what="gates" />;
  if (entries.error && !entries.data) return <ErrorBox error={entries.error} onRetry={entries.reload} />;
  const data = entries.data;
  if (!data) return null;
  return (
    <>
      <h1>Gate editor</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {data.gates.length === 0 ? (
        <Empty>No gate in the config file yet.</Empty>
      ) : (
        <table>
          <caption>Gates in the config file (version {data.version})</caption>
          <thead>
            <tr>
              <th>Id</th>
              <th>Name</th>
              <th>Cameras</th>
              <th>Allowed</th>
              <th>Schedule</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.gates.map((g) => {
              const allow = rec(g.allow);
              return (
                <tr key={g.id} data-gate={g.id}>
                  <td>{g.id}</td>
                  <td>{str(g.name)}</td>
                  <td>{strs(g.cameras).join(', ')}</td>
                  <td>{[...strs(allow.groups).map((x) => `group ${x}`), ...strs(allow.identities)].join(', ') || <span class="muted">nobody</span>}</td>
                  <td>{g.schedule === undefined ? 'always' : `${(rec(g.schedule).weekly as unknown[] | undefined)?.length ?? 0} weekly rows`}</td>
                  <td class="actions">
                    <button type="button" onClick={() => setEditing({ entry: g, key: Date.now() })} aria-label={`Edit gate ${g.id}`}>
                      Edit
                    </button>
                    <button
                      type="button"
                      class="danger"
                      onClick={() => setRemoving(g)}
                      aria-label={`Remove gate ${g.id}`}
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
      {!editing && (
        <div class="actions">
          <button type="button" onClick={() => setEditing({ entry: undefined, key: Date.now() })}>
            Add gate
          </button>
        </div>
      )}
      {editing && (
        <GateForm
          key={editing.key}
          entry={editing.entry}
          cameras={data.cameras}
          gates={data.gates}
          version={version.current ?? data.version}
          reload={reload}
          onCancel={() => setEditing(undefined)}
          onSaved={(id, r) => {
            setEditing(undefined);
            setNotice(`Gate ${id} saved (config version ${r.kind === 'saved' ? r.version : ''}).`);
            entries.reload();
          }}
        />
      )}
      {removing && (
        <RemoveEntryDialog
          key={removing.id}
          api={api}
          section="gates"
          entry={removing}
          noun="gate"
          consequence="It stops deciding; past events stay."
          version={version.current ?? data.version}
          reload={reload}
          onClose={() => setRemoving(undefined)}
          onRemoved={(v) => {
            setNotice(`Gate ${removing.id} removed (config version ${v}).`);
            setRemoving(undefined);
            entries.reload();
          }}
        />
      )}
    </>
  );
}

export function GateEditorPage() {
  const { me } = useSession();
  if (!can(me, 'admin')) return <p class="error" role="alert">The gate editor is for admins: gates are part of the config file.</p>;
  return <AdminGates />;
}

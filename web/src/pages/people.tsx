/** People: identities with photos and groups; admins enrol (photo upload with a verdict per photo), rename, regroup, add photos, remove. */
import { useState } from 'preact/hooks';
import { ApiError } from '../api.ts';
import { AuthImg, can, Dialog, Empty, ErrorBox, errorText, Loading, useLoad, useSession } from '../ui.tsx';

export interface Identity {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly templateTotal?: number;
}

/** A failed enrollment quality check as the API reports it (src/recognize/enroll-quality.ts). */
export interface QualityCheck {
  readonly check: string;
  readonly value: number;
  readonly threshold: number;
  readonly message: string;
  readonly fix: string;
}

interface Verdict {
  readonly file: string;
  readonly ok: boolean;
  readonly text: string;
  readonly checks?: readonly QualityCheck[];
  /** A look-alike: upload the photo again with force=true; resolves to the new verdict text. */
  readonly force?: () => Promise<string>;
}

const REASONS: Readonly<Record<string, string>> = {
  'no-face': 'no face',
  'several-faces': 'several faces',
  'too-small': 'too small',
  'too-blurry': 'too blurry',
  'bad-pose': 'face turned or tilted',
  duplicate: 'already enrolled',
  unreadable: 'not a readable image',
};

const contentType = (f: File): string => (f.type === 'image/jpg' ? 'image/jpeg' : f.type || 'image/jpeg');
const groupsOf = (text: string): string[] =>
  text
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);

type UploadBody = { ok?: boolean; reason?: string; message?: string; identity?: Identity; error?: string; checks?: readonly QualityCheck[] };

/** Upload photos one by one: the first creates the identity (when `id` is undefined), the rest are added. */
async function uploadPhotos(api: ReturnType<typeof useSession>['api'], files: readonly File[], target: { id?: string; name: string; groups: readonly string[]; consent?: string }, onVerdict: (v: Verdict) => void): Promise<string | undefined> {
  let id = target.id;
  for (const f of files) {
    // A new identity carries the consent the operator confirmed (the notice they were shown).
    const consent: [string, string][] = target.consent ? [['consent', target.consent], ['consentMethod', 'dashboard']] : [];
    const path = id ? `/v1/identities/${encodeURIComponent(id)}/photos` : `/v1/identities?${new URLSearchParams([['name', target.name], ...target.groups.map((g) => ['group', g] as [string, string]), ...consent])}`;
    try {
      const r = await api.verdict<UploadBody>(path, { method: 'POST', body: f, headers: { 'content-type': contentType(f) } });
      if (r.status < 300 && r.body.ok !== false) {
        if (!id && r.body.identity) id = r.body.identity.id;
        onVerdict({ file: f.name, ok: true, text: 'accepted' });
      } else {
        // looks-like: the message names the person ("looks like Angelina (similarity 0.71) (...)").
        const reason = r.body.reason === 'looks-like' && r.body.message ? r.body.message : r.body.reason ? (REASONS[r.body.reason] ?? r.body.reason) : 'rejected';
        const checks = r.body.checks?.length ? r.body.checks : undefined;
        // With checks, each failed check is its own line (what to do, the value, the threshold).
        const detail = r.body.reason === 'looks-like' || checks ? '' : r.body.message ? ` — ${r.body.message}` : '';
        const force =
          r.body.reason === 'looks-like'
            ? async (): Promise<string> => {
                const again = await api.verdict<UploadBody>(`${path}${path.includes('?') ? '&' : '?'}force=true`, { method: 'POST', body: f, headers: { 'content-type': contentType(f) } });
                return again.status < 300 && again.body.ok !== false ? 'accepted (enrolled anyway)' : `rejected: ${again.body.message ?? again.body.reason ?? 'rejected'}`;
              }
            : undefined;
        onVerdict({ file: f.name, ok: false, text: `rejected: ${reason}${detail}`, ...(checks ? { checks } : {}), ...(force ? { force } : {}) });
      }
    } catch (e) {
      onVerdict({ file: f.name, ok: false, text: `failed: ${errorText(e)}` });
      if (e instanceof ApiError && (e.status === 0 || e.status === 401 || e.status === 403)) break;
    }
  }
  return id;
}

/** "Enrol anyway" on a look-alike refusal (admin: the same upload with force=true). */
function ForceButton({ force }: { force: () => Promise<string> }) {
  const [state, setState] = useState<{ busy: boolean; text?: string }>({ busy: false });
  if (state.text) return <span class="forced"> → {state.text}</span>;
  return (
    <button
      type="button"
      disabled={state.busy}
      onClick={() => {
        setState({ busy: true });
        force().then(
          (text) => setState({ busy: false, text }),
          (e: unknown) => setState({ busy: false, text: `failed: ${errorText(e)}` }),
        );
      }}
    >
      Enrol anyway
    </button>
  );
}

function Verdicts({ list }: { list: readonly Verdict[] }) {
  if (!list.length) return null;
  return (
    <ul class="verdicts" aria-live="polite">
      {list.map((v, i) => (
        <li key={i} class={v.ok ? 'ok' : 'bad'}>
          <span class="file">{v.file}</span>: {v.text}
          {v.force && <> <ForceButton force={v.force} /></>}
          {v.checks && (
            <ul class="checks">
              {v.checks.map((c) => (
                <li key={c.check} data-check={c.check}>
                  {c.message} <span class="fix">({c.fix})</span>
                </li>
              ))}
            </ul>
          )}
        </li>
      ))}
    </ul>
  );
}

function EnrolForm({ onDone }: { onDone: () => void }) {
  const { api, me } = useSession();
  const policy = me.consent;
  const [consented, setConsented] = useState(false);
  const [name, setName] = useState('');
  const [groups, setGroups] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [busy, setBusy] = useState(false);
  const [verdicts, setVerdicts] = useState<Verdict[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    if (!name.trim()) return setError('Enter a name.');
    if (!files.length) return setError('Choose at least one photo.');
    if (policy?.required && !consented) return setError('Confirm the person’s consent first (this box requires it).');
    setError(undefined);
    setBusy(true);
    setVerdicts([]);
    const id = await uploadPhotos(api, files, { name: name.trim(), groups: groupsOf(groups), ...(policy && consented ? { consent: policy.notice } : {}) }, (v) => setVerdicts((l) => [...l, v]));
    setBusy(false);
    if (id) {
      setName('');
      setGroups('');
      setConsented(false);
      onDone();
    } else setError('No photo was accepted: the person was not enrolled.');
  };
  return (
    <form class="card enrol" onSubmit={submit} aria-labelledby="enrol-title">
      <h2 id="enrol-title">Enrol a new person</h2>
      <label for="enrol-name">Name</label>
      <input id="enrol-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} maxLength={200} />
      <label for="enrol-groups">Groups (comma-separated)</label>
      <input id="enrol-groups" value={groups} placeholder="staff, visitors" onInput={(e) => setGroups((e.target as HTMLInputElement).value)} />
      <label for="enrol-photos">Photos</label>
      <input id="enrol-photos" type="file" accept="image/jpeg,image/png,image/webp" multiple onChange={(e) => setFiles([...((e.target as HTMLInputElement).files ?? [])])} />
      {policy && (
        <label class="consent">
          <input type="checkbox" checked={consented} onChange={(e) => setConsented((e.target as HTMLInputElement).checked)} /> {policy.notice}
          {policy.required ? ' (required)' : ''}
        </label>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Enrolling…' : 'Enrol'}
      </button>
      <Verdicts list={verdicts} />
    </form>
  );
}

function Person({ person, admin, onChanged }: { person: Identity; admin: boolean; onChanged: (notice?: string) => void }) {
  const { api } = useSession();
  const photos = useLoad(() => api.json<{ photos: { id: string }[] }>(`/v1/identities/${encodeURIComponent(person.id)}/photos`).then((r) => r.photos), [person.id, person.templateTotal]);
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(person.name);
  const [groups, setGroups] = useState(person.groups.join(', '));
  const [confirm, setConfirm] = useState(false);
  const [verdicts, setVerdicts] = useState<Verdict[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const save = async (ev: Event) => {
    ev.preventDefault();
    try {
      await api.send('PATCH', `/v1/identities/${encodeURIComponent(person.id)}`, { name: name.trim(), groups: groupsOf(groups) });
      setEditing(false);
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const addPhotos = async (files: File[]) => {
    setVerdicts([]);
    await uploadPhotos(api, files, { id: person.id, name: person.name, groups: person.groups }, (v) => setVerdicts((l) => [...l, v]));
    onChanged();
    photos.reload();
  };
  const remove = async () => {
    try {
      await api.send('DELETE', `/v1/identities/${encodeURIComponent(person.id)}`);
      setConfirm(false);
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  // An erasure request: also their snapshots and their name and id in past events (docs/privacy.md).
  const erase = async () => {
    try {
      const r = (await api.send('POST', `/v1/identities/${encodeURIComponent(person.id)}/erase`)) as { events?: number; snapshots?: number; templates?: number };
      setConfirm(false);
      onChanged(`${person.name} erased: ${r.templates ?? 0} templates, ${r.snapshots ?? 0} snapshots, ${r.events ?? 0} past events anonymised`);
    } catch (e) {
      setError(e);
    }
  };
  // A subject-access request: one ZIP of what the box holds about them, decrypted.
  const exportZip = async () => {
    try {
      const { url } = await api.blobUrl(`/v1/identities/${encodeURIComponent(person.id)}/export`);
      const a = document.createElement('a');
      a.href = url;
      a.download = `${person.name.replace(/[^\w.-]+/g, '_')}-export.zip`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <li class="card person" data-identity={person.id}>
      <div class="photos">
        {photos.data?.length ? photos.data.slice(0, 4).map((p) => <AuthImg key={p.id} path={`/v1/identities/${encodeURIComponent(person.id)}/photos/${p.id}`} alt={`photo of ${person.name}`} class="thumb" />) : photos.loading ? <span class="img-loading thumb" /> : <span class="img-missing thumb" title="No face image of this person is kept (template-only mode: privacy.keepEnrollmentCrops is false, or the crops were dropped). Recognition works from the templates; a change of face model needs them enrolled again.">no photo kept</span>}
      </div>
      {editing ? (
        <form onSubmit={save} aria-label={`edit ${person.name}`}>
          <label for={`name-${person.id}`}>Name</label>
          <input id={`name-${person.id}`} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <label for={`groups-${person.id}`}>Groups</label>
          <input id={`groups-${person.id}`} value={groups} onInput={(e) => setGroups((e.target as HTMLInputElement).value)} />
          <button type="submit">Save</button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <div>
          <h3>{person.name}</h3>
          <p class="groups">{person.groups.length ? person.groups.map((g) => <span key={g} class="pill">{g}</span>) : <span class="muted">no group</span>}</p>
          <p class="muted">{person.templateTotal ?? 0} templates</p>
        </div>
      )}
      {admin && !editing && (
        <div class="actions">
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
          <label class="filebutton">
            Add photos
            <input type="file" accept="image/jpeg,image/png,image/webp" multiple onChange={(e) => void addPhotos([...((e.target as HTMLInputElement).files ?? [])])} />
          </label>
          <button type="button" onClick={() => void exportZip()}>
            Export data
          </button>
          <button type="button" class="danger" onClick={() => setConfirm(true)}>
            Remove
          </button>
        </div>
      )}
      <Verdicts list={verdicts} />
      {error !== undefined && <ErrorBox error={error} />}
      {confirm && (
        <Dialog title={`Remove ${person.name}?`} onClose={() => setConfirm(false)}>
          <p>{person.name} and all their templates and photos are deleted. They will no longer be recognised.</p>
          <button type="button" class="danger" onClick={() => void remove()}>
            Remove {person.name}
          </button>
          <p>An erasure request also deletes every snapshot showing them and replaces their name and id in past events (the decisions stay as history).</p>
          <button type="button" class="danger" onClick={() => void erase()}>
            Erase everything about {person.name}
          </button>
          <button type="button" onClick={() => setConfirm(false)}>
            Cancel
          </button>
        </Dialog>
      )}
    </li>
  );
}

export function PeoplePage() {
  const { api, me } = useSession();
  const admin = can(me, 'admin');
  const list = useLoad(() => api.json<{ identities: Identity[] }>('/v1/identities').then((r) => r.identities), []);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  return (
    <section aria-labelledby="people-title">
      <h1 id="people-title">People</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {admin && <EnrolForm onDone={list.reload} />}
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.loading && !list.data && <Loading what="people" />}
      {list.data && list.data.length === 0 && <Empty>Nobody is enrolled yet.{admin ? ' Enrol someone with the form above.' : ''}</Empty>}
      <ul class="people">
        {list.data?.map((p) => (
          <Person key={p.id} person={p} admin={admin} onChanged={(m) => { setNotice(m); list.reload(); }} />
        ))}
      </ul>
    </section>
  );
}

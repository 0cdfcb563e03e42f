/** Unknowns: clusters of recurring unknown faces; admins name (-> identity), merge or dismiss them. */
import { useState } from 'preact/hooks';
import { AuthImg, can, Dialog, Empty, ErrorBox, formatTime, Loading, useLoad, useSession } from '../ui.tsx';

interface Cluster {
  readonly id: string;
  readonly count: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly snapshots: readonly string[];
}

function ClusterCard({ c, others, admin, onChanged }: { c: Cluster; others: readonly Cluster[]; admin: boolean; onChanged: (msg?: string) => void }) {
  const { api, me } = useSession();
  const policy = me.consent;
  const [consented, setConsented] = useState(false);
  const [name, setName] = useState('');
  const [groups, setGroups] = useState('');
  const [into, setInto] = useState('');
  const [busy, setBusy] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const act = async (fn: () => Promise<unknown>, msg: string | ((r: unknown) => string)) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await fn();
      onChanged(typeof msg === 'string' ? msg : msg(r));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const groupList = groups.split(',').map((g) => g.trim()).filter(Boolean);
  return (
    <li class="card cluster" data-unknown={c.id}>
      <div class="photos">
        {c.snapshots.length ? c.snapshots.map((s) => <AuthImg key={s} path={`/v1/snapshots/${s}`} alt={`face of unknown ${c.id}`} class="thumb" />) : <span class="img-missing thumb">no snapshot kept</span>}
      </div>
      <h3>{c.id}</h3>
      <p class="muted">
        seen {c.count} time{c.count === 1 ? '' : 's'}, last {formatTime(c.lastSeen)}
      </p>
      {admin && (
        <>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (name.trim())
                void act(
                  () => api.send('POST', `/v1/unknowns/${c.id}/name`, { name: name.trim(), groups: groupList, ...(policy && consented ? { consent: policy.notice, consentMethod: 'dashboard' } : {}) }),
                  (r) => {
                    const id = (r as { identity?: { photosAdded?: number; photosRejected?: string[] } }).identity;
                    const rejected = id?.photosRejected?.length ? `, ${id.photosRejected.length} rejected (${id.photosRejected.join(', ')})` : '';
                    return `${c.id} is now ${name.trim()}: ${id?.photosAdded ?? 0} of its face snapshots added as photos${rejected}`;
                  },
                );
            }}
            aria-label={`name ${c.id}`}
          >
            <label for={`uname-${c.id}`}>Name</label>
            <input id={`uname-${c.id}`} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
            <label for={`ugroups-${c.id}`}>Groups</label>
            <input id={`ugroups-${c.id}`} value={groups} onInput={(e) => setGroups((e.target as HTMLInputElement).value)} />
            {policy && (
              <label class="consent">
                <input type="checkbox" checked={consented} onChange={(e) => setConsented((e.target as HTMLInputElement).checked)} /> {policy.notice}
                {policy.required ? ' (required)' : ''}
              </label>
            )}
            <button type="submit" disabled={busy || !name.trim() || (policy?.required === true && !consented)}>
              Name this person
            </button>
          </form>
          {others.length > 0 && (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                if (into) void act(() => api.send('POST', `/v1/unknowns/${c.id}/merge`, { into }), `${c.id} merged into ${into}`);
              }}
              aria-label={`merge ${c.id}`}
            >
              <label for={`merge-${c.id}`}>Same person as</label>
              <select id={`merge-${c.id}`} value={into} onChange={(e) => setInto((e.target as HTMLSelectElement).value)}>
                <option value="">choose…</option>
                {others.map((o) => (
                  <option key={o.id} value={o.id}>
                    {o.id} ({o.count})
                  </option>
                ))}
              </select>
              <button type="submit" disabled={busy || !into}>
                Merge
              </button>
            </form>
          )}
          <button type="button" class="danger" disabled={busy} onClick={() => setConfirm(true)}>
            Dismiss
          </button>
        </>
      )}
      {error !== undefined && <ErrorBox error={error} />}
      {confirm && (
        <Dialog title={`Dismiss ${c.id}?`} onClose={() => setConfirm(false)}>
          <p>The cluster is forgotten; if this face comes back it starts a new one.</p>
          <button type="button" class="danger" onClick={() => { setConfirm(false); void act(() => api.send('DELETE', `/v1/unknowns/${c.id}`), `${c.id} dismissed`); }}>
            Dismiss {c.id}
          </button>
          <button type="button" onClick={() => setConfirm(false)}>
            Cancel
          </button>
        </Dialog>
      )}
    </li>
  );
}

export function UnknownsPage() {
  const { api, me } = useSession();
  const list = useLoad(() => api.json<{ unknowns: Cluster[] }>('/v1/unknowns').then((r) => r.unknowns), [], 10_000);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const admin = can(me, 'admin');
  return (
    <section aria-labelledby="unknowns-title">
      <h1 id="unknowns-title">Unknowns</h1>
      <p class="muted">Recurring faces nobody has named yet, grouped by similarity.</p>
      {notice && <p class="notice" role="status">{notice}</p>}
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.loading && !list.data && <Loading what="unknown faces" />}
      {list.data && list.data.length === 0 && <Empty>No unknown faces so far.</Empty>}
      <ul class="clusters">
        {list.data?.map((c) => (
          <ClusterCard key={c.id} c={c} others={list.data?.filter((o) => o.id !== c.id) ?? []} admin={admin} onChanged={(m) => { setNotice(m); list.reload(); }} />
        ))}
      </ul>
    </section>
  );
}

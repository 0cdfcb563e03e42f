/** The operator dashboard: sign-in, then Live / Events / People / Unknowns / Gates / System, and for admins Cameras / Gate editor. */
import { render } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api, ApiError, authRequired, clearToken, EventStream, storedToken, storeToken, whoAmI, type FgEvent, type Me, type StreamState } from './api.ts';
import { CamerasPage } from './pages/cameras.tsx';
import { EventsPage } from './pages/events.tsx';
import { GateEditorPage } from './pages/gate-editor.tsx';
import { GatesPage } from './pages/gates.tsx';
import { LivePage } from './pages/live.tsx';
import { PeoplePage } from './pages/people.tsx';
import { SystemPage } from './pages/system.tsx';
import { UnknownsPage } from './pages/unknowns.tsx';
import { can, SessionContext, type Session } from './ui.tsx';
import './style.css';

const PAGES = [
  { id: 'live', label: 'Live', view: LivePage },
  { id: 'events', label: 'Events', view: EventsPage },
  { id: 'people', label: 'People', view: PeoplePage },
  { id: 'unknowns', label: 'Unknowns', view: UnknownsPage },
  { id: 'gates', label: 'Gates', view: GatesPage },
  { id: 'system', label: 'System', view: SystemPage },
  { id: 'cameras', label: 'Cameras', view: CamerasPage, admin: true },
  { id: 'gate-editor', label: 'Gate editor', view: GateEditorPage, admin: true },
] as const;
type PageId = (typeof PAGES)[number]['id'];

const MAX_EVENTS = 3000;

function currentPage(): PageId {
  const h = location.hash.replace(/^#\/?/, '');
  return (PAGES.find((p) => p.id === h)?.id ?? 'live') as PageId;
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (token: string, me: Me) => void; notice: string | undefined }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(notice);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const t = token.trim();
    if (!t) return setError('Enter your access token.');
    setBusy(true);
    setError(undefined);
    try {
      const me = await whoAmI(t);
      onSignedIn(t, me);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setError('Sign-in failed: that token is not valid.');
      else if (e instanceof ApiError && e.status === 429) setError(`Too many failed attempts: ${e.message}`);
      else if (e instanceof ApiError && e.unreachable) setError('Cannot reach the facegate server. Is it running?');
      else setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">facegate</h1>
        <p>Sign in with your access token.</p>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} autofocus />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function Shell({ token, me, onSignOut }: { token: string; me: Me; onSignOut: (notice?: string) => void }) {
  const api = useMemo(() => new Api(token), [token]);
  const [page, setPage] = useState<PageId>(currentPage());
  const [events, setEvents] = useState<readonly FgEvent[]>([]);
  const [stream, setStream] = useState<StreamState>({ state: 'connecting' });
  const seen = useRef(new Set<number>());
  const snapshots = useRef(new Map<string, string>());
  const [snapVersion, setSnapVersion] = useState(0);

  const addEvents = useCallback((batch: readonly FgEvent[]) => {
    const fresh = batch.filter((e) => !seen.current.has(e.id));
    if (!fresh.length) return;
    let snapsChanged = false;
    for (const e of fresh) {
      seen.current.add(e.id);
      const snap = e.data.snapshotId;
      if (e.trackId && typeof snap === 'string' && !snapshots.current.has(e.trackId)) {
        snapshots.current.set(e.trackId, snap);
        snapsChanged = true;
      }
    }
    if (snapsChanged) setSnapVersion((v) => v + 1);
    setEvents((prev) => {
      const all = [...fresh, ...prev].sort((a, b) => b.id - a.id);
      if (all.length > MAX_EVENTS) {
        for (const e of all.slice(MAX_EVENTS)) seen.current.delete(e.id);
        return all.slice(0, MAX_EVENTS);
      }
      return all;
    });
  }, []);

  useEffect(() => {
    const onHash = () => setPage(currentPage());
    window.addEventListener('hashchange', onHash);
    const off = api.onAuthError(() => onSignOut('Your token is no longer accepted (revoked or changed). Sign in again.'));
    const checkToken = () => {
      // The upgrade was refused: a revoked token signs out; a server that is down is retried.
      whoAmI(token).catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 401) onSignOut('Your token is no longer accepted (revoked or changed). Sign in again.');
      });
    };
    const s = new EventStream(token, addEvents, setStream, 300, checkToken);
    return () => {
      window.removeEventListener('hashchange', onHash);
      off();
      s.close();
    };
  }, [api]);

  const session: Session = useMemo(() => ({ api, me, events, stream, snapshotOfTrack: snapshots.current, addEvents }), [api, me, events, stream, snapVersion]);
  const View = PAGES.find((p) => p.id === page)?.view ?? LivePage;
  return (
    <SessionContext.Provider value={session}>
      <header class="top">
        <strong class="brand">facegate</strong>
        <nav aria-label="Pages">
          {PAGES.filter((p) => !('admin' in p) || can(me, 'admin')).map((p) => (
            <a key={p.id} href={`#/${p.id}`} aria-current={p.id === page ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <span class={`conn conn-${stream.state}`} role="status" title={stream.detail}>
          {stream.state === 'connected' ? 'live' : stream.state === 'reconnecting' ? `reconnecting…` : stream.state}
        </span>
        <span class="who">
          {me.id} ({me.role})
        </span>
        <button type="button" onClick={() => onSignOut()}>
          Sign out
        </button>
      </header>
      {stream.state === 'reconnecting' && (
        <p class="banner" role="alert">
          Event stream interrupted: {stream.detail ?? 'reconnecting'}. Events missed meanwhile are replayed on reconnect.
        </p>
      )}
      <main id="page">
        <View />
      </main>
    </SessionContext.Provider>
  );
}

function App() {
  const [token, setToken] = useState<string | null>(storedToken());
  const [me, setMe] = useState<Me | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [checking, setChecking] = useState(true);
  useEffect(() => {
    if (me) return;
    if (!token) {
      // auth.enabled: false (a lab box on loopback): no sign-in page; the server admits everyone as admin.
      authRequired().then(async (required) => {
        if (!required) {
          const m = await whoAmI('').catch(() => undefined);
          if (m) {
            setMe(m);
            setToken('');
          }
        }
        setChecking(false);
      });
      return;
    }
    whoAmI(token).then(
      (m) => {
        setMe(m);
        setChecking(false);
      },
      (e: unknown) => {
        if (e instanceof ApiError && e.status === 401) {
          clearToken();
          setToken(null);
          setNotice('Your token is no longer accepted (revoked or changed). Sign in again.');
        } else setNotice(e instanceof ApiError && e.unreachable ? 'Cannot reach the facegate server. Is it running?' : String(e));
        setChecking(false);
      },
    );
  }, [token]);
  const signOut = (why?: string) => {
    clearToken();
    setToken(null);
    setMe(undefined);
    setNotice(why);
  };
  if (checking) return <p class="loading">Checking your session…</p>;
  if (token === null || !me)
    return (
      <SignIn
        notice={notice}
        onSignedIn={(t, m) => {
          storeToken(t);
          setNotice(undefined);
          setMe(m);
          setToken(t);
        }}
      />
    );
  return <Shell token={token} me={me} onSignOut={signOut} />;
}

const root = document.getElementById('app');
if (root) render(<App />, root);

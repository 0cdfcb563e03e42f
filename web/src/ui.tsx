/** Shared pieces: the session context, authenticated images, loading / empty / error states, dialogs. */
import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, ROLE_RANK, type Api, type FgEvent, type Me, type Role, type StreamState } from './api.ts';

export interface Session {
  readonly api: Api;
  readonly me: Me;
  /** Events seen (WebSocket + older pages), newest first, unique by id. */
  readonly events: readonly FgEvent[];
  readonly stream: StreamState;
  /** Face snapshot id of a track (from its face.* events), for rows that have none themselves. */
  readonly snapshotOfTrack: ReadonlyMap<string, string>;
  /** Add older events (paged from GET /v1/events). */
  addEvents(events: readonly FgEvent[]): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}

export function can(me: Me, role: Role): boolean {
  return ROLE_RANK[me.role] >= ROLE_RANK[role];
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.unreachable) return 'The facegate API cannot be reached. Is the server running? Retrying…';
    if (e.status === 401) return 'Your token is no longer accepted (revoked?). Sign in again.';
    if (e.status === 403) return `Not allowed: ${e.message}`;
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div class="error" role="alert">
      <span>{errorText(error)}</span>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** Load something from the API; reload() runs it again. Polls every `everyMs` when given. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[], everyMs?: number): { data: T | undefined; error: unknown; loading: boolean; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    let timer: number | undefined;
    const run = () => {
      load().then(
        (d) => {
          if (!alive) return;
          setData(d);
          setError(undefined);
          setLoading(false);
        },
        (e: unknown) => {
          if (!alive) return;
          setError(e);
          setLoading(false);
        },
      );
      if (everyMs) timer = window.setTimeout(run, everyMs);
    };
    run();
    return () => {
      alive = false;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}

/** An image fetched with the token into a blob: URL (revoked when replaced or unmounted). */
export function AuthImg({ path, alt, class: cls, onClick }: { path: string; alt: string; class?: string; onClick?: () => void }) {
  const { api } = useSession();
  const [url, setUrl] = useState<string | undefined>(undefined);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let alive = true;
    let made: string | undefined;
    setFailed(false);
    api.blobUrl(path).then(
      (r) => {
        made = r.url;
        if (alive) setUrl(r.url);
        else URL.revokeObjectURL(r.url);
      },
      () => alive && setFailed(true),
    );
    return () => {
      alive = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [path]);
  if (failed) return <span class={`img-missing ${cls ?? ''}`}>no image</span>;
  if (!url) return <span class={`img-loading ${cls ?? ''}`} aria-label={`loading ${alt}`} />;
  const img = <img src={url} alt={alt} class={cls} />;
  return onClick ? (
    <button type="button" class="img-button" onClick={onClick} aria-label={`open ${alt}`}>
      {img}
    </button>
  ) : (
    img
  );
}

/** A modal dialog (native <dialog>: focus trapped, Escape closes). */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    const close = () => onClose();
    d?.addEventListener('close', close);
    return () => d?.removeEventListener('close', close);
  }, []);
  return (
    <dialog ref={ref} aria-label={title}>
      <header>
        <h2>{title}</h2>
        <button type="button" onClick={() => ref.current?.close()} aria-label="Close">
          ×
        </button>
      </header>
      {children}
    </dialog>
  );
}

export function formatTime(ms: number): string {
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour12: false }) + (Date.now() - ms > 86_400_000 ? ` ${d.toLocaleDateString()}` : '');
}

export function pct(n: number | undefined): string {
  return n === undefined ? '–' : n.toFixed(2);
}

/** A copy of `list` with row `i` replaced: state setters need a new array, never the old one changed in place. */
export function replaceAt<T>(list: readonly T[], i: number, item: T): T[] {
  return list.map((x, j) => (j === i ? item : x));
}

/** A copy of `list` without row `i`. */
export function removeAt<T>(list: readonly T[], i: number): T[] {
  return list.filter((_, j) => j !== i);
}

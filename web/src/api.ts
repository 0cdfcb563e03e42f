/**
 * The dashboard's API client. The token lives in sessionStorage only; it goes to the HTTP API as
 * `Authorization: Bearer` and to the WebSocket as the `facegate.token.<T>` subprotocol, never in
 * a URL. Images are fetched with the header and shown through blob: URLs.
 */

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLE_RANK: Readonly<Record<Role, number>> = { viewer: 1, operator: 2, admin: 3 };

const TOKEN_KEY = 'facegate.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}
export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An API failure with what the page needs to say: status (0 = not reachable) and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  get unreachable(): boolean {
    return this.status === 0;
  }
}

export interface Me {
  readonly id: string;
  readonly role: Role;
  /** Enrollment's consent policy (privacy.requireConsent and the notice the operator confirms). */
  readonly consent?: { readonly required: boolean; readonly notice: string };
}

export type FgEvent = {
  readonly id: number;
  readonly type: string;
  readonly time: string;
  readonly timeMs: number;
  readonly cameraId?: string;
  readonly gateId?: string;
  readonly trackId?: string;
  readonly identityId?: string;
  readonly data: Readonly<Record<string, unknown>>;
};

type Listener = (e: ApiError) => void;

export class Api {
  private authListeners = new Set<Listener>();
  constructor(readonly token: string) {}

  /** Called when the server says the token is no longer valid (revoked) or the role is too low. */
  onAuthError(l: Listener): () => void {
    this.authListeners.add(l);
    return () => this.authListeners.delete(l);
  }

  async raw(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${this.token}` }, cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'cannot reach the facegate API (is the server running?)');
    }
    if (!res.ok) {
      let body: Record<string, unknown> | undefined;
      try {
        body = (await res.json()) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      const message = typeof body?.error === 'string' ? body.error : `HTTP ${res.status}`;
      const err = new ApiError(res.status, message, body);
      if (res.status === 401) for (const l of this.authListeners) l(err);
      throw err;
    }
    return res;
  }

  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.raw(path, init);
    return (await res.json()) as T;
  }

  /** A JSON call that may answer 4xx with a JSON verdict the page shows (uploads: 422 = rejected). */
  async verdict<T>(path: string, init: RequestInit): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${this.token}` } });
    } catch {
      throw new ApiError(0, 'cannot reach the facegate API (is the server running?)');
    }
    const body = (await res.json().catch(() => ({}))) as T & { error?: string };
    if (res.status === 401) {
      const err = new ApiError(401, body.error ?? 'token not accepted');
      for (const l of this.authListeners) l(err);
      throw err;
    }
    if (res.status >= 500 || res.status === 403 || res.status === 404 || res.status === 400 || res.status === 413 || res.status === 415) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
    return { status: res.status, body };
  }

  send<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.json<T>(path, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  }

  /** Fetch an image with the token; resolves to a blob: URL the caller must revoke. */
  async blobUrl(path: string): Promise<{ url: string; headers: Headers }> {
    const res = await this.raw(path);
    return { url: URL.createObjectURL(await res.blob()), headers: res.headers };
  }
}

/** Whether the server asks for a token (public /healthz; false only with auth.enabled: false). */
export async function authRequired(): Promise<boolean> {
  try {
    const res = await fetch('/healthz', { cache: 'no-store' });
    const body = (await res.json()) as { auth?: unknown };
    return body.auth !== false;
  } catch {
    return true;
  }
}

/** Check a token: who it is, or an ApiError (401 wrong token, 0 server unreachable). */
export async function whoAmI(token: string): Promise<Me> {
  return new Api(token).json<Me>('/v1/me');
}

export type StreamState = { readonly state: 'connecting' | 'connected' | 'reconnecting' | 'closed'; readonly detail?: string };

/**
 * The /v1/events WebSocket with reconnect: after a drop it resubscribes with `since` = the last
 * id it delivered, so nothing is missed and, ids being monotonic, nothing is delivered twice.
 */
export class EventStream {
  private ws: WebSocket | undefined;
  private lastId: number | undefined;
  private closed = false;
  private attempt = 0;
  private timer: number | undefined;

  constructor(
    private readonly token: string,
    private readonly onEvents: (events: FgEvent[]) => void,
    private readonly onState: (s: StreamState) => void,
    /** How many past events to replay on the first connection. */
    private readonly backlog = 300,
    private readonly onRejected?: () => void,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    this.onState({ state: this.attempt === 0 ? 'connecting' : 'reconnecting', detail: this.attempt ? `attempt ${this.attempt}` : undefined });
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/v1/events`, ['facegate.v1', `facegate.token.${this.token}`]);
    this.ws = ws;
    let opened = false;
    let pending: FgEvent[] = [];
    let flush: number | undefined;
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (m) => {
      let msg: { type: string; lastId?: number; event?: FgEvent; lastSentId?: number; message?: string };
      try {
        msg = JSON.parse(String(m.data)) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'hello') {
        this.attempt = 0;
        const since = this.lastId ?? Math.max(0, (msg.lastId ?? 0) - this.backlog);
        ws.send(JSON.stringify({ type: 'subscribe', since }));
        this.onState({ state: 'connected' });
      } else if (msg.type === 'event' && msg.event) {
        const e = msg.event;
        if (this.lastId !== undefined && e.id <= this.lastId) return; // never twice
        this.lastId = e.id;
        pending.push(e);
        // Batch a replay burst into one render.
        flush ??= window.setTimeout(() => {
          flush = undefined;
          const batch = pending;
          pending = [];
          this.onEvents(batch);
        }, 50);
      } else if (msg.type === 'lagged' && typeof msg.lastSentId === 'number') {
        this.lastId = msg.lastSentId;
      }
    };
    ws.onclose = () => {
      if (flush !== undefined) {
        window.clearTimeout(flush);
        flush = undefined;
        if (pending.length) this.onEvents(pending);
        pending = [];
      }
      if (this.closed) return;
      // Refused at the upgrade (token revoked, server down): the page checks the token itself.
      if (!opened) this.onRejected?.();
      this.attempt++;
      const delay = Math.min(10_000, 250 * 2 ** Math.min(this.attempt, 6)) * (0.8 + Math.random() * 0.4);
      this.onState({ state: 'reconnecting', detail: `connection lost; retrying in ${(delay / 1000).toFixed(1)} s` });
      this.timer = window.setTimeout(() => this.connect(), delay);
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) window.clearTimeout(this.timer);
    this.ws?.close();
    this.onState({ state: 'closed' });
  }
}

/** GET /v1/calibration (src/recognize/calibration-report.ts CalibrationReport). */
export interface CalibrationSide {
  readonly count: number;
  readonly histogram: readonly number[];
  readonly min: number | null;
  readonly median: number | null;
  readonly max: number | null;
}
export interface CalibrationBlock {
  readonly genuine: CalibrationSide;
  readonly stranger: CalibrationSide;
  readonly estimate: { readonly falseAcceptRate: number | null; readonly falseRejectRate: number | null; readonly strangersNearThreshold: number; readonly genuineNearThreshold: number };
}
export interface Calibration {
  readonly thresholds: { readonly unmasked: number; readonly masked: number; readonly source?: string };
  readonly bins: { readonly low: number; readonly width: number; readonly count: number };
  readonly near: number;
  readonly events: { readonly genuine: number; readonly stranger: number; readonly strangerWithoutScore: number };
  readonly overall: CalibrationBlock;
  readonly cameras: readonly (CalibrationBlock & { readonly cameraId: string })[];
  readonly topStrangers: readonly { readonly cameraId: string; readonly score: number; readonly threshold: number; readonly gap: number; readonly masked: boolean; readonly timeMs: number; readonly eventId?: number }[];
}

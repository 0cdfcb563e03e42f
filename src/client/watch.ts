import WebSocket from 'ws';
import { TOKEN_PROTOCOL_PREFIX } from '../api/auth.ts';
import type { EventFilter, ServerMessage } from '../api/protocol.ts';

export interface WatchOptions {
  /** Base URL of the facegate server, e.g. http://127.0.0.1:8640. */
  readonly url: string;
  readonly token: string;
  readonly filter?: EventFilter;
  /** Resume after this event id (default: only new events). */
  readonly since?: number;
  readonly onEvent: (event: { id: number; type: string } & Record<string, unknown>) => void;
  readonly onStatus?: (status: { state: 'connected' | 'disconnected' | 'lagged' | 'error'; detail?: string }) => void;
  /** Reconnect delays grow from this (ms), capped at 10 s. */
  readonly retryMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * A typed client for /v1/events that never loses an event across reconnects: it remembers the id
 * of the last event it handed to onEvent and resubscribes with `since` that id, so the server
 * replays exactly what was missed.
 */
export function watchEvents(opts: WatchOptions): { lastId: () => number; close: () => void } {
  let lastId = opts.since ?? -1;
  let ws: WebSocket | undefined;
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  const base = opts.url.replace(/^http/, 'ws').replace(/\/$/, '');

  const connect = (): void => {
    if (stopped) return;
    const socket = new WebSocket(`${base}/v1/events`, ['facegate.v1'], { headers: { authorization: `Bearer ${opts.token}` } });
    ws = socket;
    socket.on('message', (data) => {
      let m: ServerMessage;
      try {
        m = JSON.parse(data.toString()) as ServerMessage;
      } catch {
        return;
      }
      if (m.type === 'hello') {
        attempt = 0;
        opts.onStatus?.({ state: 'connected' });
        const since = lastId >= 0 ? lastId : m.lastId;
        socket.send(JSON.stringify({ type: 'subscribe', since, ...(opts.filter ? { filter: opts.filter } : {}) }));
        if (lastId < 0) lastId = m.lastId;
      } else if (m.type === 'event') {
        const ev = m.event as { id: number; type: string } & Record<string, unknown>;
        if (ev.id <= lastId) return; // never hand the same event twice
        lastId = ev.id;
        opts.onEvent(ev);
      } else if (m.type === 'lagged') {
        opts.onStatus?.({ state: 'lagged', detail: m.message });
      } else if (m.type === 'error') {
        opts.onStatus?.({ state: 'error', detail: m.message });
      }
    });
    socket.on('close', () => {
      opts.onStatus?.({ state: 'disconnected' });
      if (stopped) return;
      const delay = Math.min(10_000, (opts.retryMs ?? 250) * 2 ** attempt++);
      timer = setTimeout(connect, delay);
    });
    socket.on('error', (e) => opts.onStatus?.({ state: 'error', detail: e.message }));
  };
  const close = (): void => {
    stopped = true;
    if (timer) clearTimeout(timer);
    ws?.close();
  };
  opts.signal?.addEventListener('abort', close, { once: true });
  connect();
  return { lastId: () => lastId, close };
}

export { TOKEN_PROTOCOL_PREFIX };

/**
 * The hub's event feed for the HTTP API and the WebSocket (src/api EventFeed): the newest events
 * of every node in memory (a bounded window loaded from PostgreSQL at start, appended as the
 * consumer commits), so replay-then-live joins the live stream with no gap, as on a box; a
 * `since` older than the window is paged from PostgreSQL first. GET /v1/events queries read the
 * whole history from PostgreSQL.
 *
 * Hub events are the nodes' events with three more envelope keys: `id` is the hub's own
 * monotonic id (PostgreSQL's hub_id: what `since` means at the hub), `nodeId` and `site` say
 * where it happened and `nodeEventId` is the id in that node's own log.
 */
import { defer, Subject, type Observable } from 'rxjs';
import { replayThenLive } from '../lib/replay.ts';
import type { ApiEvent, EventFeed, EventQuery } from '../api/types.ts';
import { matchesFilter, type EventFilter } from '../events/index.ts';

export interface HubEvent extends ApiEvent {
  readonly id: number;
  readonly type: string;
  readonly timeMs: number;
  readonly nodeId: string;
  readonly site: string;
  readonly nodeEventId: number;
  readonly cameraId?: string;
  readonly gateId?: string;
  readonly identityId?: string;
  readonly [key: string]: unknown;
}

/** The box filter: its `nodes` and `sites` match the origin every hub event carries. */
export type HubFilter = EventFilter;

export function matchesHubFilter(e: HubEvent, f: HubFilter | undefined): boolean {
  return matchesFilter(e as Parameters<typeof matchesFilter>[0], f);
}

export function toHubEvent(hubId: number, nodeId: string, site: string, body: Record<string, unknown>): HubEvent {
  const nodeEventId = Number(body.id);
  return { ...body, id: hubId, nodeId, site, nodeEventId, type: String(body.type), timeMs: Number(body.timeMs) } as HubEvent;
}

/** Where GET /v1/events reads the whole history (PostgreSQL at the hub). */
export type HubHistory = (q: EventQuery & { readonly nodeId?: string; readonly site?: string }) => Promise<readonly HubEvent[]>;
/** Events after a hub id, in hub id order, at most `limit` (PostgreSQL): replay from before the window. */
export type HubEventsAfter = (hubId: number, limit: number) => Promise<readonly HubEvent[]>;

const REPLAY_PAGE = 1000;

export class HubFeed implements EventFeed {
  private readonly window: HubEvent[] = [];
  private readonly live = new Subject<HubEvent>();
  private last = 0;

  /**
   * `history`: queries go to the whole history (the hub passes PostgreSQL); without it they are
   * answered from the window. Replay with `since` is always the window's (it must join the live
   * stream with no gap).
   */
  constructor(
    readonly capacity = 100_000,
    private readonly history?: HubHistory,
    private readonly eventsAfter?: HubEventsAfter,
  ) {}

  /** Events in hub id order (the consumer commits in order). */
  push(events: readonly HubEvent[]): void {
    for (const e of events) {
      if (e.id <= this.last) continue;
      this.last = e.id;
      this.window.push(e);
      this.live.next(e);
    }
    const over = this.window.length - this.capacity;
    if (over > 0) this.window.splice(0, over);
  }

  /** Replace events of the window by id (an erasure's tombstoned rows); ids not in it are ignored. */
  replace(events: readonly HubEvent[]): void {
    const by = new Map(events.map((e) => [e.id, e]));
    for (let i = 0; i < this.window.length && by.size > 0; i++) {
      const next = by.get(this.window[i].id);
      if (next) {
        this.window[i] = next;
        by.delete(next.id);
      }
    }
  }

  lastId(): number {
    return this.last;
  }

  size(): number {
    return this.window.length;
  }

  replayThenLive(sinceId: number, filter: EventFilter): Observable<HubEvent> {
    return defer(() => {
      const since = Math.max(0, Math.min(Math.floor(Number.isFinite(sinceId) ? sinceId : 0), this.last));
      const f = filter as HubFilter;
      return replayThenLive<HubEvent>({
        since,
        live$: this.live,
        // Older than the window: paged from the history (PostgreSQL); then the window, at once.
        page: (afterId, limit) => {
          const oldest = this.window[0]?.id;
          if (this.eventsAfter && oldest !== undefined && afterId < oldest - 1) return this.eventsAfter(afterId, limit);
          return this.window.filter((e) => e.id > afterId);
        },
        pageSize: REPLAY_PAGE,
        matches: (e) => matchesHubFilter(e, f),
      });
    });
  }

  query(q: EventQuery & { readonly nodeId?: string; readonly site?: string }): readonly HubEvent[] | Promise<readonly HubEvent[]> {
    return this.history ? this.history(q) : this.queryWindow(q);
  }

  /** The in-memory window only (the newest `capacity` events). */
  queryWindow(q: EventQuery & { readonly nodeId?: string; readonly site?: string }): readonly HubEvent[] {
    const limit = Math.max(1, Math.min(10_000, Math.floor(q.limit ?? 1000)));
    const f: HubFilter = { ...(q.types ? { types: [...q.types] } : {}), ...(q.cameraId ? { cameras: [q.cameraId] } : {}), ...(q.gateId ? { gates: [q.gateId] } : {}), ...(q.identityId ? { identities: [q.identityId] } : {}), ...(q.nodeId ? { nodes: [q.nodeId] } : {}), ...(q.site ? { sites: [q.site] } : {}) };
    const ok = (e: HubEvent): boolean => (q.fromMs === undefined || e.timeMs >= q.fromMs) && (q.toMs === undefined || e.timeMs < q.toMs) && matchesHubFilter(e, f);
    const sorted = [...this.window].sort((a, b) => a.timeMs - b.timeMs || a.id - b.id);
    if (q.order === 'desc') sorted.reverse();
    const out: HubEvent[] = [];
    for (const e of sorted) {
      if (!ok(e)) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  close(): void {
    this.live.complete();
  }
}

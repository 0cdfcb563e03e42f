/**
 * The event bus: the log first, then an RxJS Subject. A subscriber that resumes from an id gets
 * every logged event after it, then the live ones, with no gap and no duplicate at the seam:
 *
 * 1. subscribe to the live Subject first, buffering what arrives;
 * 2. read the log after `sinceId` in pages (a long backlog yields to the event loop between
 *    pages; events published meanwhile are both in the log and in the buffer);
 * 3. when a page comes back short the log is drained: flush the buffer, skipping every id not
 *    above the last one emitted, and switch to live delivery.
 *
 * Why it holds: publish() appends before it emits, so an event is in the log before any
 * subscriber can see it live, and emission is serialized, so live ids arrive in increasing order. Any event with an id
 * above sinceId was either in the log when a page was read, or was published after step 1 and so
 * is in the buffer. Ids increase, so "skip id <= last emitted" removes exactly the overlap.
 */
import { defer, Observable, Subject } from 'rxjs';
import { replayThenLive } from '../lib/replay.ts';
import { matchesFilter, type EventFilter } from './filter.ts';
import type { EventLog } from './log.ts';
import type { Event, NewEvent } from './types.ts';

export interface EventBusOptions {
  /** Events per log read during replay (default 500). */
  readonly replayPageSize?: number | undefined;
  /**
   * A replay reads pages back to back for up to this many ms, then yields to the event loop
   * (default 5; 0 = one page per turn).
   */
  readonly replaySliceMs?: number | undefined;
}

export class EventBus {
  readonly log: EventLog;
  private readonly subject = new Subject<Event>();
  private readonly pageSize: number;
  private readonly sliceMs: number;
  /** Every published event, live only (no replay). */
  readonly events$: Observable<Event> = this.subject.asObservable();

  constructor(log: EventLog, opts: EventBusOptions = {}) {
    this.log = log;
    this.pageSize = Math.max(1, Math.floor(opts.replayPageSize ?? 500));
    this.sliceMs = Math.max(0, opts.replaySliceMs ?? 5);
  }

  /** Appended, not yet emitted: publishes made while an emission is in progress wait here. */
  private readonly pending: Event[] = [];
  private emitting = false;

  /**
   * Append to the log (durable when this returns), then emit. If the append throws (invalid
   * event, disk failure) nothing is emitted and the error reaches the caller.
   *
   * Emission is serialized: an event published from inside a subscriber's next() (re-entrantly)
   * is emitted after the current event has reached every subscriber, so each subscriber sees ids
   * in increasing order. A plain Subject would hand the nested event to the later subscribers
   * before the outer one.
   */
  publish(input: NewEvent): Event {
    const event = this.log.append(input);
    this.pending.push(event);
    if (!this.emitting) {
      this.emitting = true;
      try {
        for (let next = this.pending.shift(); next !== undefined; next = this.pending.shift()) this.subject.next(next);
      } finally {
        this.emitting = false;
      }
    }
    return event;
  }

  /** Live events that match the filter. */
  live(filter: EventFilter = {}): Observable<Event> {
    return new Observable<Event>((subscriber) => this.subject.subscribe({ next: (e) => matchesFilter(e, filter) && subscriber.next(e), error: (e: unknown) => subscriber.error(e), complete: () => subscriber.complete() }));
  }

  /**
   * Every logged event with id > sinceId that matches the filter, then the live ones. A sinceId
   * above the log's last id (a client of another log) is taken as the last id: live events only.
   */
  replayThenLive(sinceId: number, filter: EventFilter = {}): Observable<Event> {
    return defer(() =>
      replayThenLive<Event>({
        since: Math.max(0, Math.min(Math.floor(Number.isFinite(sinceId) ? sinceId : 0), this.log.lastId())),
        live$: this.subject,
        page: (afterId, limit) => this.log.since(afterId, filter, limit),
        pageSize: this.pageSize,
        matches: (e) => matchesFilter(e, filter),
        sliceMs: this.sliceMs,
      }),
    );
  }

  /** Complete every subscriber (shutdown). The log is not closed: its owner closes it. */
  close(): void {
    this.subject.complete();
  }
}

/**
 * publishEvents: the end of the pipeline. Each item becomes its v1 event (or nothing: track
 * updates, repeated recognitions of a track), is appended to the durable log and only then
 * published (EventBus.publish), and the published event is passed on (the service counts it and
 * the demo prints it).
 *
 * - A recognition whose decision changed gets a face snapshot first, so the event can name it; a
 *   failed write never drops the event. Writes already started finish and publish even after
 *   unsubscribe (stop() then drain() lets them land before the log closes).
 * - stage.error is rate limited per camera and stage: a model failing on every frame must not
 *   flood the log and every subscriber.
 * - An event the log refuses (invalid, disk failure) is logged and not published; the stream goes on.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { holdFrame, releaseFrame } from '../lib/frame-lease.ts';
import type { Logger } from '../log.ts';
import { EventThrottle, type EventBus, type Event, type NewEvent, type SnapshotStore } from '../events/index.ts';
import { eventFromActuation, eventFromCameraHealth, eventFromGate, eventFromRecognition, eventFromStageFailure, eventFromTrack } from './to-event.ts';
import type { PipelineItem } from './items.ts';

/** One stage.error per camera and stage per this many ms (the next one counts the suppressed). */
export const STAGE_ERROR_WINDOW_MS = 10_000;

export interface PublishEventsOptions {
  readonly snapshots?: SnapshotStore | undefined;
  /** Rate limit of stage.error (default one per camera and stage per STAGE_ERROR_WINDOW_MS). */
  readonly stageErrors?: EventThrottle | undefined;
  /** Snapshot writes in flight are added here while they run (the caller's drain awaits them). */
  readonly inFlight?: Set<Promise<void>> | undefined;
  readonly logger?: Logger | undefined;
  /** Clock of the rate limit (default Date.now). */
  readonly now?: (() => number) | undefined;
}

export function publishEvents(bus: EventBus, opts: PublishEventsOptions = {}): OperatorFunction<PipelineItem, Event> {
  const log = opts.logger;
  const now = opts.now ?? Date.now;
  const stageErrors = opts.stageErrors ?? new EventThrottle(STAGE_ERROR_WINDOW_MS);
  return (source) =>
    new Observable<Event>((subscriber) => {
      let closed = false;
      let sourceDone = false;
      const saving = new Set<Promise<void>>();
      const maybeComplete = (): void => {
        if (sourceDone && saving.size === 0 && !closed) subscriber.complete();
      };
      const publish = (e: NewEvent | undefined): void => {
        if (!e) return;
        let event: Event;
        try {
          event = bus.publish(e);
        } catch (err) {
          log?.error({ err, type: e.type }, 'event could not be logged; not published');
          return;
        }
        if (!closed) subscriber.next(event);
      };
      const onItem = (item: PipelineItem): void => {
        switch (item.kind) {
          case 'camera':
            return publish(eventFromCameraHealth(item.health));
          case 'track':
            return publish(eventFromTrack(item.event));
          case 'gate':
            return publish(eventFromGate(item.event));
          case 'actuation':
            return publish(eventFromActuation(item.record, item.timeMs));
          case 'stage.error': {
            const f = item.failure;
            const suppressed = stageErrors.admit(`${f.cameraId}\u0000${f.stage}`, now());
            if (suppressed === undefined) return;
            log?.error({ err: f.error, camera: f.cameraId, stage: f.stage, model: f.model, suppressed }, `${f.stage} failed`);
            return publish(eventFromStageFailure(f, suppressed));
          }
          case 'recognition': {
            // One face.recognized per person per track, not one per embedder run.
            const r = item.recognition;
            if (!r.changed) return;
            if (!opts.snapshots) return publish(eventFromRecognition(r));
            // The snapshot reads the frame's pixels after this returns: a hold keeps its memory
            // from taking a later frame meanwhile (src/lib/frame-lease.ts).
            if (!holdFrame(r.frame)) {
              log?.error({ camera: r.cameraId }, 'snapshot skipped: the frame was released before the event reached publishing; event published without it');
              return publish(eventFromRecognition(r));
            }
            const write = opts.snapshots.save(r.frame, r.box, { timeMs: r.timeMs, ...(r.others ? { others: r.others } : {}) }).then(
              (snapshotId) => publish(eventFromRecognition(r, { snapshotId })),
              (err: unknown) => {
                log?.warn({ err, camera: r.cameraId }, 'snapshot failed; event published without it');
                publish(eventFromRecognition(r));
              },
            );
            saving.add(write);
            opts.inFlight?.add(write);
            void write.finally(() => {
              releaseFrame(r.frame);
              saving.delete(write);
              opts.inFlight?.delete(write);
              maybeComplete();
            });
            return;
          }
        }
      };
      const sub = source.subscribe({
        next: onItem,
        error: (e: unknown) => subscriber.error(e),
        complete: () => {
          sourceDone = true;
          maybeComplete();
        },
      });
      return () => {
        closed = true;
        sub.unsubscribe();
      };
    });
}

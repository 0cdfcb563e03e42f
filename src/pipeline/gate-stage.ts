/**
 * The gate stage of the pipeline: the gates' operator (src/gates, gateDecisions) fed from the
 * pipeline's items and its decisions and actuation outcomes put back on the same stream.
 */
import { Observable, Subject, type OperatorFunction } from 'rxjs';
import { gateDecisions, type GateDecisionsOptions, type GateInput, type GatePolicy } from '../gates/index.ts';
import type { Recognition } from '../recognize/index.ts';
import { actuationItem, gateItem, type PipelineItem } from './items.ts';

/** The zones a face is in, for gates that name one (`zone:`); undefined when the camera has none. */
export type ZonesOfRecognition = (r: Recognition) => readonly string[] | undefined;

export interface DecideGatesOptions extends Omit<GateDecisionsOptions, 'onActuation' | 'onError'> {
  readonly zonesOf?: ZonesOfRecognition | undefined;
  /** When an actuation finished (default Date.now): the actuation item's time. */
  readonly now?: (() => number) | undefined;
}

/** A recognition or the end of a track as the gate policy reads it; undefined for anything else. */
export function gateInputOf(item: PipelineItem, zonesOf?: ZonesOfRecognition): GateInput | undefined {
  if (item.kind === 'track') return item.event.type === 'track.ended' ? item.event : undefined;
  if (item.kind !== 'recognition') return undefined;
  const r = item.recognition;
  return { type: r.type, cameraId: r.cameraId, trackId: r.trackId, identityId: r.identityId, name: r.name, groups: r.groups, score: r.score, masked: r.masked, liveness: r.liveness, livenessEvidence: r.livenessEvidence, zones: zonesOf?.(r), timeMs: r.timeMs };
}

/**
 * The gate stage of the pipeline: every item passes through, and after each recognition or track
 * end the gate events it caused follow it (then, when the door controller answers, an actuation
 * item). One gateDecisions operator holds the one GateState for the stage's whole life; the gate
 * set comes from `gates$` (hot reload: a new set takes over the state, so cooldowns,
 * anti-passback and holds carry over; a refused set is logged and the previous one stays).
 * Completes after the source, once actuations in flight have settled.
 */
export function decideGates(gates$: Observable<readonly GatePolicy[]>, opts: DecideGatesOptions = {}): OperatorFunction<PipelineItem, PipelineItem> {
  const now = opts.now ?? Date.now;
  return (source) =>
    new Observable<PipelineItem>((subscriber) => {
      const inputs = new Subject<GateInput>();
      const decisions = inputs
        .pipe(gateDecisions(gates$, { ...opts, onActuation: (record) => subscriber.next(actuationItem(record, now())) }))
        .subscribe({ next: (event) => subscriber.next(gateItem(event)), error: (err: unknown) => subscriber.error(err), complete: () => subscriber.complete() });
      const items = source.subscribe({
        next: (item) => {
          subscriber.next(item);
          const input = gateInputOf(item, opts.zonesOf);
          if (input) inputs.next(input);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => inputs.complete(),
      });
      return () => {
        items.unsubscribe();
        decisions.unsubscribe();
      };
    });
}

/**
 * The gate stage of the pipeline: the gates' operator (src/gates, gateDecisions) fed from the
 * pipeline's items and its decisions and actuation outcomes put back on the same stream.
 */
import { Observable, Subject, type OperatorFunction, type Subscription } from 'rxjs';
import { gateDecisions, type GateDecisionsOptions, type GateEvent, type GateInput, type GatePolicy } from '../gates/index.ts';
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
  return { type: r.type, cameraId: r.cameraId, trackId: r.trackId, identityId: r.identityId, name: r.name, groups: r.groups, score: r.score, masked: r.masked, liveness: r.liveness, zones: zonesOf?.(r), timeMs: r.timeMs };
}

/**
 * The gate stage of the pipeline: every item passes through, and after each recognition or track
 * end the gate events it caused follow it (then, when the door controller answers, an actuation
 * item). The gate set comes from `gates$` (hot reload): a new set takes over the one GateState,
 * so cooldowns, anti-passback and holds carry over; a set gateDecisions refuses (two gates with
 * one id) is logged and the previous set stays. Completes after the source, once actuations in
 * flight have settled.
 */
export function decideGates(gates$: Observable<readonly GatePolicy[]>, opts: DecideGatesOptions = {}): OperatorFunction<PipelineItem, PipelineItem> {
  const now = opts.now ?? Date.now;
  return (source) =>
    new Observable<PipelineItem>((subscriber) => {
      let inputs = new Subject<GateInput>();
      let state = opts.initialState;
      let decisions: Subscription | undefined;
      let sourceDone = false;
      const use = (gates: readonly GatePolicy[]): void => {
        let operator: OperatorFunction<GateInput, GateEvent>;
        try {
          operator = gateDecisions(gates, {
            ...opts,
            initialState: state,
            onState: (s) => {
              state = s;
              opts.onState?.(s);
            },
            onActuation: (record) => subscriber.next(actuationItem(record, now())),
          });
        } catch (err) {
          opts.log?.error({ err: err instanceof Error ? err.message : String(err) }, 'gate set refused; the previous gates stay');
          return;
        }
        // The previous operator aborts its actuations in flight when unsubscribed (as a restart would).
        decisions?.unsubscribe();
        inputs.complete();
        inputs = new Subject<GateInput>();
        decisions = inputs.pipe(operator).subscribe({
          next: (event) => subscriber.next(gateItem(event)),
          error: (err: unknown) => subscriber.error(err),
          complete: () => {
            if (sourceDone) subscriber.complete();
          },
        });
      };
      const gatesSub = gates$.subscribe({ next: use, error: (err: unknown) => subscriber.error(err) });
      const sourceSub = source.subscribe({
        next: (item) => {
          subscriber.next(item);
          const input = gateInputOf(item, opts.zonesOf);
          if (input) inputs.next(input);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          if (decisions) inputs.complete();
          else subscriber.complete();
        },
      });
      return () => {
        sourceSub.unsubscribe();
        gatesSub.unsubscribe();
        decisions?.unsubscribe();
      };
    });
}

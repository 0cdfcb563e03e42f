/**
 * gateDecisions: the thin operator around the gate stage's pure reducer (stepGates, step.ts). It
 * folds recognitions, track ends, operators' manual commands, the fleet's area inputs and new gate
 * sets into the one GateState (shared by all gates, so anti-passback pairs and areas see each
 * other), emits the decisions synchronously, and actuates grants and manual actions through an
 * injected Actuator without waiting for it (the outcome goes to onActuation and the log). Time is
 * the input's own timeMs (capture time), so replaying a recording decides the same.
 *
 * Anti-passback areas that span boxes come in as `areaInputs` (in fleet mode the edge's passage
 * follower, src/fleet/passage-follower.ts): passages recorded on other nodes are merged into the
 * state and the link's health is recorded there, so every area decision says whether its area
 * state was fresh.
 */
import { isObservable, Observable, Subscription, type OperatorFunction } from 'rxjs';
import type { Actuator, GateLogger } from './actuate.ts';
import { createActuations, emptyGateStats, type ActuationRecord, type GateStats } from './actuations.ts';
import type { GatePolicy } from './config.ts';
import { EMPTY_GATE_STATE, type GateEvent, type GateState } from './policy.ts';
import { compileGateSet, initialGateStep, stepGates, type AreaInput, type GateCommand, type GateInput, type GateSet, type GateStep, type ManualRequest } from './step.ts';

export interface GateDecisionsOptions {
  /**
   * The actuator of a gate. Default: createActuator(gate.actuation) when the gate has one,
   * none otherwise. Return undefined for no actuation.
   */
  readonly actuatorFor?: ((gate: GatePolicy) => Actuator | undefined) | undefined;
  /** Manual open / hold-open / close requests from operators. */
  readonly manual?: Observable<ManualRequest> | undefined;
  /**
   * The fleet's anti-passback area state (passages of other nodes, the link's health). Hot: each
   * operator (a new one per gate set on hot reload) subscribes for its lifetime and sees what
   * comes from then on; what came before is already in the state it takes over.
   */
  readonly areaInputs?: Observable<AreaInput> | undefined;
  readonly initialState?: GateState | undefined;
  /** Called after every state change (persist it, inspect it in tests). */
  readonly onState?: ((state: GateState) => void) | undefined;
  readonly onActuation?: ((record: ActuationRecord) => void) | undefined;
  /** Errors that do not end the stream (an invalid manual request). */
  readonly onError?: ((error: unknown) => void) | undefined;
  readonly log?: GateLogger | undefined;
  readonly stats?: GateStats | undefined;
  /** Prune stale state every this many inputs (default 256). */
  readonly pruneEvery?: number | undefined;
}

/**
 * Map recognitions (with groups) and track events to gate events, through stepGates (step.ts): one
 * GateState for every gate, folded over the inputs, manual commands, area inputs and gate sets.
 * `gates` is a fixed set (two gates with one id throw here) or an Observable of sets (hot reload: a
 * new set takes over the same state; a set with two gates of one id is logged and the previous set
 * stays; actuations in flight for the previous set are aborted, as a restart would). Completes when
 * the source completes and every actuation in flight has settled; unsubscribing aborts actuations
 * in flight.
 */
export function gateDecisions(gates: readonly GatePolicy[] | Observable<readonly GatePolicy[]>, opts: GateDecisionsOptions = {}): OperatorFunction<GateInput, GateEvent> {
  const fixed = isObservable(gates) ? undefined : compileGateSet(gates);
  const stats = opts.stats ?? emptyGateStats();
  const pruneEvery = opts.pruneEvery ?? 256;
  const log = opts.log;
  return (source) =>
    new Observable<GateEvent>((subscriber) => {
      let step: GateStep | undefined = fixed ? initialGateStep(fixed, opts.initialState ?? EMPTY_GATE_STATE) : undefined;
      let sourceDone = false;
      const maybeComplete = (): void => {
        if (sourceDone && actuations.inFlight() === 0) subscriber.complete();
      };
      const actuations = createActuations({ actuatorFor: opts.actuatorFor, onActuation: opts.onActuation, onSettled: maybeComplete, stats, log });
      const emit = (gate: GatePolicy, event: GateEvent): void => {
        if (event.type === 'gate.granted') stats.granted++;
        else if (event.type === 'gate.denied') stats.denied++;
        else stats.manual++;
        if (event.type === 'gate.opened') log?.info({ gateId: event.gateId, action: event.action, by: event.by, reason: event.reason }, 'gate manual action');
        else log?.info({ gateId: event.gateId, trackId: event.trackId, identityId: event.identityId, type: event.type, reason: event.reason }, 'gate decision');
        subscriber.next(event);
        // Grants open the door; manual open / hold-open / close are passed on as such.
        if (event.type !== 'gate.denied') actuations.actuate(gate, event);
      };
      const fail = (e: unknown): void => {
        stats.errors++;
        log?.warn({ err: e instanceof Error ? e.message : String(e) }, 'gate input failed');
        opts.onError?.(e);
      };
      /** The fold: every command goes through stepGates; the operator only counts, emits and actuates. */
      const apply = (cmd: GateCommand): void => {
        if (!step) return;
        const prev = step.state;
        step = stepGates(step, cmd, pruneEvery);
        stats.recognitions += step.recognitions;
        stats.cooldownRepeats += step.cooldownRepeats;
        stats.areaPassages += step.areaPassages;
        if (step.state !== prev) opts.onState?.(step.state);
        if (step.error !== undefined) fail(step.error);
        for (const d of step.decisions) emit(d.gate, d.event);
      };

      // One place where everything this operator subscribed to ends.
      const subs = new Subscription(() => actuations.abort());
      if (fixed) actuations.use(fixed);
      else {
        subs.add(
          (gates as Observable<readonly GatePolicy[]>).subscribe({
            next: (next) => {
              let set: GateSet;
              try {
                set = compileGateSet(next);
              } catch (err) {
                log?.error({ err: err instanceof Error ? err.message : String(err) }, 'gate set refused; the previous gates stay');
                return;
              }
              // Actuations in flight for the previous set are aborted, as a restart would.
              actuations.use(set);
              if (step) apply({ kind: 'gates', set });
              else step = initialGateStep(set, opts.initialState ?? EMPTY_GATE_STATE);
            },
            error: (e: unknown) => subscriber.error(e),
          }),
        );
      }
      if (opts.manual) subs.add(opts.manual.subscribe({ next: (request) => apply({ kind: 'manual', request }), error: fail }));
      if (opts.areaInputs) subs.add(opts.areaInputs.subscribe({ next: (input) => apply({ kind: 'area', input }), error: fail }));
      subs.add(
        source.subscribe({
          next: (input) => apply({ kind: 'input', input }),
          error: (e: unknown) => subscriber.error(e),
          complete: () => {
            sourceDone = true;
            maybeComplete();
          },
        }),
      );
      return subs;
    });
}

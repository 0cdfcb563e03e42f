/**
 * The gate stage's actuations, apart from its decisions: grants and manual actions are actuated
 * through each gate's Actuator without the decision waiting for it (the outcome goes to
 * onActuation and the log), counted while in flight so the operator completes only after they
 * settled, and aborted together when the gate set is replaced or the stream ends, as a restart would.
 */
import { createActuator, type ActuationRequest, type ActuationResult, type Actuator, type GateLogger } from './actuate.ts';
import type { GatePolicy } from './config.ts';
import type { GateGranted, GateOpened } from './policy.ts';
import type { GateSet } from './step.ts';

export interface ActuationRecord {
  readonly request: ActuationRequest;
  readonly result: ActuationResult;
}

export interface GateStats {
  recognitions: number;
  granted: number;
  denied: number;
  manual: number;
  actuations: number;
  actuationFailures: number;
  /** The same person recognised again within a gate's cooldown: no decision event (not a denial). */
  cooldownRepeats: number;
  /** Inputs whose processing threw (e.g. a bad manual request); the stream goes on. */
  errors: number;
  /** Passages of other nodes merged into the area state (newer than what was known). */
  areaPassages: number;
}

export function emptyGateStats(): GateStats {
  return { recognitions: 0, granted: 0, denied: 0, manual: 0, actuations: 0, actuationFailures: 0, cooldownRepeats: 0, errors: 0, areaPassages: 0 };
}

export interface Actuations {
  /** Take the actuators of a new gate set (aborting what is in flight for the previous one). */
  use(set: GateSet): void;
  /** Actuate a grant or a manual action of `gate`, if it has an actuator; never waits. */
  actuate(gate: GatePolicy, event: GateGranted | GateOpened): void;
  readonly inFlight: () => number;
  abort(): void;
}

export function createActuations(o: {
  readonly actuatorFor?: ((gate: GatePolicy) => Actuator | undefined) | undefined;
  readonly onActuation?: ((record: ActuationRecord) => void) | undefined;
  /** Called each time an actuation settles (the operator may complete then). */
  readonly onSettled: () => void;
  readonly stats: GateStats;
  readonly log?: GateLogger | undefined;
}): Actuations {
  let actuators = new Map<string, Actuator | undefined>();
  let abort = new AbortController();
  let inFlight = 0;
  return {
    use: (set) => {
      abort.abort();
      abort = new AbortController();
      actuators = new Map(set.gates.map((g) => [g.id, o.actuatorFor ? o.actuatorFor(g) : g.actuation ? createActuator(g.actuation, { log: o.log }) : undefined]));
    },
    actuate: (gate, event) => {
      const actuator = actuators.get(gate.id);
      if (!actuator) return;
      const request: ActuationRequest = { gateId: gate.id, action: event.type === 'gate.opened' ? event.action : 'open', event };
      inFlight++;
      o.stats.actuations++;
      actuator
        .actuate(request, abort.signal)
        .catch((e: unknown): ActuationResult => {
          o.log?.error({ gateId: gate.id, err: e instanceof Error ? e.message : String(e) }, 'gate actuator threw');
          return { ok: false, outcomes: [] };
        })
        .then((result) => {
          if (!result.ok) {
            o.stats.actuationFailures++;
            o.log?.warn({ gateId: gate.id, action: request.action, outcomes: result.outcomes }, 'gate actuation failed');
          }
          o.onActuation?.({ request, result });
        })
        .finally(() => {
          inFlight--;
          o.onSettled();
        });
    },
    inFlight: () => inFlight,
    abort: () => abort.abort(),
  };
}

/**
 * gateDecisions: the thin operator around decide(). It routes each recognition to the gates of
 * its camera, keeps the one GateState (shared by all gates, so anti-passback pairs see each
 * other), emits GateDecision events synchronously, and actuates grants and manual actions
 * through an injected Actuator without waiting for it (the outcome goes to onActuation and the
 * log). Time is the input's own timeMs (capture time), so replaying a recording decides the same.
 *
 * Anti-passback areas that span boxes come in as a second input, `areaInputs` (in fleet mode the
 * edge's passage follower, src/fleet/passage-follower.ts): passages recorded on other nodes are
 * merged into the one GateState (mergeExternalPassage, pure) and the link's health is recorded
 * there (setAreaSync), so every area decision says whether its area state was fresh.
 */
import { Observable, type OperatorFunction, type Subscription } from 'rxjs';
import type { Recognition } from '../recognize/index.ts';
import { createActuator, type ActuationRequest, type ActuationResult, type Actuator, type GateLogger } from './actuate.ts';
import type { GatePolicy } from './config.ts';
import { GateError } from './errors.ts';
import { decide, EMPTY_GATE_STATE, endTrack, manualAction, mergeExternalPassage, pruneGateState, setAreaSync, type AreaSync, type ExternalPassage, type GateEvent, type GateGranted, type GateOpened, type GateState, type ManualActionRequest, type RecognitionInput } from './policy.ts';

/** A track event (src/track's TrackEvent fits); only track.ended matters to gates. */
export interface GateTrackInput {
  readonly type: 'track.started' | 'track.updated' | 'track.ended';
  readonly cameraId: string;
  readonly trackId: string;
  readonly timeMs: number;
}

export type GateInput = RecognitionInput | GateTrackInput;

export interface ManualRequest extends ManualActionRequest {
  readonly gateId: string;
  readonly timeMs: number;
}

/** What the fleet tells the gates about anti-passback areas (a hot Observable: see gateDecisions). */
export type AreaInput =
  /** A passage recorded on another node (or this one, coming back: merging it changes nothing). */
  | { readonly type: 'area.passage'; readonly passage: ExternalPassage }
  /** The link behind the area state: fresh, or stale (deciding from local state). */
  | { readonly type: 'area.sync'; readonly sync: AreaSync };

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

export function emptyGateStats(): GateStats {
  return { recognitions: 0, granted: 0, denied: 0, manual: 0, actuations: 0, actuationFailures: 0, cooldownRepeats: 0, errors: 0, areaPassages: 0 };
}

function isRecognition(input: GateInput): input is RecognitionInput {
  return input.type === 'face.recognized' || input.type === 'face.unknown';
}

/**
 * Map recognitions (with groups) and track events to gate events. Completes when the source
 * completes and every actuation in flight has settled; unsubscribing aborts actuations in flight.
 */
export function gateDecisions(gates: readonly GatePolicy[], opts: GateDecisionsOptions = {}): OperatorFunction<GateInput, GateEvent> {
  const ids = new Set<string>();
  for (const g of gates) {
    if (ids.has(g.id)) throw new GateError('GATE_CONFIG_INVALID', `two gates have the id '${g.id}'`, { context: { gate: g.id }, hint: 'give every gate its own id' });
    ids.add(g.id);
  }
  const stats = opts.stats ?? emptyGateStats();
  const pruneEvery = opts.pruneEvery ?? 256;
  const log = opts.log;
  return (source) =>
    new Observable<GateEvent>((subscriber) => {
      const byCamera = new Map<string, GatePolicy[]>();
      for (const g of gates) for (const c of g.cameras) byCamera.set(c, [...(byCamera.get(c) ?? []), g]);
      const byId = new Map(gates.map((g) => [g.id, g]));
      // Passages of areas no gate here names are not kept (a fleet's other sites).
      const areas = new Set(gates.flatMap((g) => (g.antiPassback?.area !== undefined ? [g.antiPassback.area] : [])));
      const actuators = new Map<string, Actuator | undefined>();
      for (const g of gates) actuators.set(g.id, opts.actuatorFor ? opts.actuatorFor(g) : g.actuation ? createActuator(g.actuation, { log }) : undefined);
      const abort = new AbortController();
      let state = opts.initialState ?? EMPTY_GATE_STATE;
      let inFlight = 0;
      let sourceDone = false;
      let inputs = 0;

      const setState = (next: GateState): void => {
        if (next === state) return;
        state = next;
        opts.onState?.(state);
      };
      const maybeComplete = (): void => {
        if (sourceDone && inFlight === 0) subscriber.complete();
      };
      const actuate = (gate: GatePolicy, event: GateGranted | GateOpened): void => {
        const actuator = actuators.get(gate.id);
        if (!actuator) return;
        const request: ActuationRequest = { gateId: gate.id, action: event.type === 'gate.opened' ? event.action : 'open', event };
        inFlight++;
        stats.actuations++;
        actuator
          .actuate(request, abort.signal)
          .catch((e: unknown): ActuationResult => {
            log?.error({ gateId: gate.id, err: e instanceof Error ? e.message : String(e) }, 'gate actuator threw');
            return { ok: false, outcomes: [] };
          })
          .then((result) => {
            if (!result.ok) {
              stats.actuationFailures++;
              log?.warn({ gateId: gate.id, action: request.action, outcomes: result.outcomes }, 'gate actuation failed');
            }
            opts.onActuation?.({ request, result });
          })
          .finally(() => {
            inFlight--;
            maybeComplete();
          });
      };
      const emit = (gate: GatePolicy, event: GateEvent): void => {
        if (event.type === 'gate.granted') stats.granted++;
        else if (event.type === 'gate.denied') stats.denied++;
        else stats.manual++;
        if (event.type === 'gate.opened') log?.info({ gateId: event.gateId, action: event.action, by: event.by, reason: event.reason }, 'gate manual action');
        else log?.info({ gateId: event.gateId, trackId: event.trackId, identityId: event.identityId, type: event.type, reason: event.reason }, 'gate decision');
        subscriber.next(event);
        // Grants open the door; manual open / hold-open / close are passed on as such.
        if (event.type !== 'gate.denied') actuate(gate, event);
      };
      const fail = (e: unknown): void => {
        stats.errors++;
        log?.warn({ err: e instanceof Error ? e.message : String(e) }, 'gate input failed');
        opts.onError?.(e);
      };

      const onInput = (input: GateInput): void => {
        try {
          inputs++;
          if (inputs % pruneEvery === 0) setState(pruneGateState(gates, state, input.timeMs));
          const candidates = byCamera.get(input.cameraId) ?? [];
          if (isRecognition(input)) {
            stats.recognitions++;
            for (const gate of candidates) {
              const r = decide(gate, state, input, input.timeMs);
              setState(r.state);
              if (r.repeat) stats.cooldownRepeats++;
              if (r.decision) emit(gate, r.decision);
            }
          } else if (input.type === 'track.ended') {
            for (const gate of candidates) {
              const r = endTrack(gate, state, input, input.timeMs);
              setState(r.state);
              if (r.decision) emit(gate, r.decision);
            }
          }
        } catch (e) {
          fail(e);
        }
      };
      const onManual = (req: ManualRequest): void => {
        try {
          const gate = byId.get(req.gateId);
          if (!gate) throw new GateError('GATE_UNKNOWN', `no gate with id '${req.gateId}'`, { context: { gate: req.gateId }, hint: `configured gates: ${[...byId.keys()].join(', ')}` });
          const r = manualAction(gate, state, req, req.timeMs);
          setState(r.state);
          emit(gate, r.event);
        } catch (e) {
          fail(e);
        }
      };

      const onArea = (input: AreaInput): void => {
        try {
          if (input.type === 'area.sync') return setState(setAreaSync(state, input.sync));
          if (!areas.has(input.passage.area)) return;
          const next = mergeExternalPassage(state, input.passage);
          if (next !== state) stats.areaPassages++;
          setState(next);
        } catch (e) {
          fail(e);
        }
      };

      const subs: Subscription[] = [];
      if (opts.manual) subs.push(opts.manual.subscribe({ next: onManual, error: fail }));
      if (opts.areaInputs) subs.push(opts.areaInputs.subscribe({ next: onArea, error: fail }));
      subs.push(
        source.subscribe({
          next: onInput,
          error: (e: unknown) => subscriber.error(e),
          complete: () => {
            sourceDone = true;
            maybeComplete();
          },
        }),
      );
      return () => {
        for (const s of subs) s.unsubscribe();
        abort.abort();
      };
    });
}

/**
 * The gate stage as a pure reducer: one GateState for every gate (anti-passback pairs and areas see
 * each other), and one step per input — a recognition, the end of a track, an operator's manual
 * command, an area passage or link state from the fleet, or a new gate set (hot reload, the state
 * carried over). The operator (operator.ts) folds its inputs through `stepGates` and does only the
 * I/O: emitting the decisions and actuating doors. Time is the input's own time, never the clock.
 */
import type { GatePolicy } from './config.ts';
import { GateError } from './errors.ts';
import { decide, endTrack, manualAction, mergeExternalPassage, pruneGateState, setAreaSync, type AreaSync, type ExternalPassage, type GateEvent, type GateState, type ManualActionRequest, type RecognitionInput } from './policy.ts';

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

/** A gate set ready to route inputs: by camera, by id, and the areas any of its gates names. */
export interface GateSet {
  readonly gates: readonly GatePolicy[];
  readonly byCamera: ReadonlyMap<string, readonly GatePolicy[]>;
  readonly byId: ReadonlyMap<string, GatePolicy>;
  readonly areas: ReadonlySet<string>;
}

/** Index a gate set; two gates with one id are refused (GATE_CONFIG_INVALID). */
export function compileGateSet(gates: readonly GatePolicy[]): GateSet {
  const byId = new Map<string, GatePolicy>();
  const byCamera = new Map<string, GatePolicy[]>();
  for (const g of gates) {
    if (byId.has(g.id)) throw new GateError('GATE_CONFIG_INVALID', `two gates have the id '${g.id}'`, { context: { gate: g.id }, hint: 'give every gate its own id' });
    byId.set(g.id, g);
    for (const c of g.cameras) byCamera.set(c, [...(byCamera.get(c) ?? []), g]);
  }
  // Passages of areas no gate here names are not kept (a fleet's other sites).
  const areas = new Set(gates.flatMap((g) => (g.antiPassback?.area !== undefined ? [g.antiPassback.area] : [])));
  return { gates, byCamera, byId, areas };
}

export type GateCommand =
  | { readonly kind: 'input'; readonly input: GateInput }
  | { readonly kind: 'manual'; readonly request: ManualRequest }
  | { readonly kind: 'area'; readonly input: AreaInput }
  | { readonly kind: 'gates'; readonly set: GateSet };

/** The stage after a step, and what the step produced. */
export interface GateStep {
  readonly set: GateSet;
  readonly state: GateState;
  /** Recognitions and track ends seen (stale state is pruned every `pruneEvery` of them). */
  readonly inputs: number;
  /** Decisions in order, each with the gate that made it (the operator actuates grants and opens). */
  readonly decisions: readonly { readonly gate: GatePolicy; readonly event: GateEvent }[];
  readonly recognitions: number;
  readonly cooldownRepeats: number;
  readonly areaPassages: number;
  /** A command that could not be applied (an unknown gate in a manual request); the state is unchanged. */
  readonly error: unknown;
}

export function initialGateStep(set: GateSet, state: GateState): GateStep {
  return { set, state, inputs: 0, decisions: [], recognitions: 0, cooldownRepeats: 0, areaPassages: 0, error: undefined };
}

const isRecognition = (input: GateInput): input is RecognitionInput => input.type === 'face.recognized' || input.type === 'face.unknown';

/** One command applied to the stage. Never throws: a failing command comes back as `error`. */
export function stepGates(prev: GateStep, cmd: GateCommand, pruneEvery = 256): GateStep {
  const base: GateStep = { ...prev, decisions: [], recognitions: 0, cooldownRepeats: 0, areaPassages: 0, error: undefined };
  try {
    switch (cmd.kind) {
      case 'gates':
        return { ...base, set: cmd.set };
      case 'area': {
        const input = cmd.input;
        if (input.type === 'area.sync') return { ...base, state: setAreaSync(base.state, input.sync) };
        if (!base.set.areas.has(input.passage.area)) return base;
        const state = mergeExternalPassage(base.state, input.passage);
        return { ...base, state, areaPassages: state !== base.state ? 1 : 0 };
      }
      case 'manual': {
        const req = cmd.request;
        const gate = base.set.byId.get(req.gateId);
        if (!gate) throw new GateError('GATE_UNKNOWN', `no gate with id '${req.gateId}'`, { context: { gate: req.gateId }, hint: `configured gates: ${[...base.set.byId.keys()].join(', ')}` });
        const r = manualAction(gate, base.state, req, req.timeMs);
        return { ...base, state: r.state, decisions: [{ gate, event: r.event }] };
      }
      case 'input': {
        const input = cmd.input;
        const inputs = base.inputs + 1;
        let state = inputs % pruneEvery === 0 ? pruneGateState(base.set.gates, base.state, input.timeMs) : base.state;
        const decisions: { gate: GatePolicy; event: GateEvent }[] = [];
        const candidates = base.set.byCamera.get(input.cameraId) ?? [];
        let cooldownRepeats = 0;
        if (isRecognition(input)) {
          for (const gate of candidates) {
            const r = decide(gate, state, input, input.timeMs);
            state = r.state;
            if (r.repeat) cooldownRepeats++;
            if (r.decision) decisions.push({ gate, event: r.decision });
          }
        } else if (input.type === 'track.ended') {
          for (const gate of candidates) {
            const r = endTrack(gate, state, input, input.timeMs);
            state = r.state;
            if (r.decision) decisions.push({ gate, event: r.decision });
          }
        }
        return { ...base, state, inputs, decisions, recognitions: isRecognition(input) ? 1 : 0, cooldownRepeats };
      }
    }
  } catch (error) {
    return { ...base, error };
  }
}

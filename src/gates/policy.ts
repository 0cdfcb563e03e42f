/**
 * The access decision, as a pure function of (policy, state, recognition, now). No clock, no I/O,
 * no logging: the operator owns those.
 *
 * Per track and gate:
 * 1. Confirmation. Each recognition of the track is a vote: the identity id (face.recognized with
 *    a score at or above the gate's optional minScore, or minScoreMasked for a masked face),
 *    UNKNOWN (face.unknown), or LOW (recognized but under that floor). A vote for K confirms K when K holds `n` of the last `m`
 *    votes. Until something is confirmed the track is *pending*: nothing is emitted (no
 *    'low-confidence' spam on every frame). A track that ends still pending gets one final
 *    gate.denied 'low-confidence' from `endTrack`, so an unanswered person is in the audit log.
 * 2. A confirmed K that is not the track's last decided K gets exactly one final decision; later
 *    recognitions confirming the same K decide nothing. A different confirmed identity (an id
 *    switch in the tracker) is decided afresh. UNKNOWN never overrides an earlier decision of the
 *    track: after a grant, a few blurred frames must not produce a denial.
 * 3. The checks, in this order; the first that fails is the reason:
 *    liveness     - a presentation attack makes everything after it meaningless (the "identity"
 *                   is the victim's), and it is the alarm a guard must see. While the track's
 *                   liveness is not known yet (too few frames scored) a confirmed track stays
 *                   pending: the recognizer re-announces it once the liveness is known.
 *    mask-policy  - a property of the presentation too; it tells the person what to change, and
 *                   a mask is often *why* the face came back unknown.
 *    unknown      - no credential.
 *    not-allowed  - a credential without rights to this gate (the permanent fact).
 *    outside-schedule - rights, but not now (the temporary fact).
 *    cooldown     - the same person granted here within cooldownMs: a re-sighting of one
 *                   passage (a new track after a tracker loss). Not a denial: an operator reads
 *                   gate.denied as an alarm, and nothing is wrong. So no decision event at all
 *                   (`repeat: 'cooldown'` on the result, counted by the operator in
 *                   GateStats.cooldownRepeats and /metrics), no second actuation, and the track
 *                   counts as decided. Checked before anti-passback for the same reason.
 *    anti-passback - entry gates only: the person's last passage of the pair was an entry within
 *                   windowMs and no exit since.
 *    This is the usual access-controller order: validate the presentation, then the credential,
 *    then the authorisation (who, when), then the passage rules.
 * Decisions are final for the track's identity: a person denied 'outside-schedule' at 07:59 is not
 * re-decided at 08:00 while the same track lasts; they step away and come back (a new track).
 * Passages are recorded at grant time (there is no door sensor): a grant at an entry gate is an
 * entry, at its paired exit gate an exit.
 *
 * Anti-passback areas (`antiPassback.area`): every gate naming the area shares one last passage
 * per person (key = area + identity), on this box and, in fleet mode, on every other box: passages
 * recorded elsewhere arrive as external inputs (mergeExternalPassage: the newer capture time wins,
 * a passage never moves back in time) and the fleet link's health as setAreaSync. An area gate's
 * decision says which state it was taken on (`area.state`): 'local' (no fleet link: the area is
 * this box's gates), 'fresh' (following the fleet's area state) or 'stale' (the link or the hub
 * is down: decided from local state and what arrived before the outage).
 */
import type { GatePolicy } from './config.ts';
import { GateError } from './errors.ts';
import { scheduleOpen } from './schedule.ts';

/** The part of src/recognize's Recognition a gate needs, plus the identity's groups. */
export interface RecognitionInput {
  readonly type: 'face.recognized' | 'face.unknown';
  readonly cameraId: string;
  readonly trackId: string;
  readonly identityId?: string | undefined;
  readonly name?: string | undefined;
  /** Groups of the identity (looked up by the stream from the gallery). */
  readonly groups?: readonly string[] | undefined;
  readonly score?: number | undefined;
  readonly masked: boolean;
  /** The track's liveness score (src/recognize: the median of its last frames). */
  readonly liveness?: number | undefined;
  /**
   * What the score rests on, when liveness models run: `score` undefined = not known yet (too few
   * frames); `threshold` = the models' calibrated one, used unless the gate sets its own.
   */
  readonly livenessEvidence?: { readonly score: number | undefined; readonly frames: number; readonly threshold: number; readonly rule: string } | undefined;
  /** Ids of the camera's zones that hold the face (the stream computes them; see zones.ts). */
  readonly zones?: readonly string[] | undefined;
  readonly timeMs: number;
}

/** The end of a track (src/track's TrackEndedEvent fits). */
export interface TrackEndInput {
  readonly cameraId: string;
  readonly trackId: string;
  readonly timeMs: number;
}

/** Every reason a gate.denied can carry (runtime list, for schemas). */
export const DENY_REASONS = ['unknown', 'not-allowed', 'outside-schedule', 'mask-policy', 'liveness', 'low-confidence', 'anti-passback', 'cooldown'] as const;
export type DenyReason = (typeof DENY_REASONS)[number];

/** How current a box's view of its anti-passback areas is (see the module comment). */
export const AREA_SYNC_MODES = ['local', 'fresh', 'stale'] as const;
export type AreaSyncMode = (typeof AREA_SYNC_MODES)[number];

/** What an area gate's decision records about its area (event data `area`). */
export interface DecisionArea {
  readonly id: string;
  readonly direction: Direction;
  /** The area state the decision was taken on. */
  readonly state: AreaSyncMode;
}

/** The liveness evidence a decision of a gate that requires liveness rests on (event data `livenessEvidence`). */
export interface DecisionLiveness {
  /** The track's score (undefined: no liveness was read; the gate failed closed). */
  readonly score: number | undefined;
  readonly frames: number;
  /** The threshold applied: the gate's own, else the models' calibrated one. */
  readonly threshold: number | undefined;
  readonly rule: string;
}

interface GateDecisionBase {
  readonly gateId: string;
  readonly cameraId: string;
  readonly trackId: string;
  readonly identityId?: string | undefined;
  readonly name?: string | undefined;
  readonly score?: number | undefined;
  readonly liveness?: number | undefined;
  /** Gates that require liveness only. */
  readonly livenessEvidence?: DecisionLiveness | undefined;
  readonly masked: boolean;
  readonly timeMs: number;
  /** Gates with an anti-passback area only. */
  readonly area?: DecisionArea | undefined;
}
export interface GateGranted extends GateDecisionBase {
  readonly type: 'gate.granted';
  readonly reason?: undefined;
}
export interface GateDenied extends GateDecisionBase {
  readonly type: 'gate.denied';
  readonly reason: DenyReason;
}
export type GateDecision = GateGranted | GateDenied;

export const MANUAL_ACTIONS = ['open', 'hold-open', 'close'] as const;
export type ManualActionKind = (typeof MANUAL_ACTIONS)[number];

export interface ManualActionRequest {
  readonly action: ManualActionKind;
  /** Who did it (operator user name). Required: manual actions are audited. */
  readonly by: string;
  /** Why (free text). Required. */
  readonly reason: string;
  /** hold-open only: how long; undefined = until a 'close'. */
  readonly durationMs?: number | undefined;
}

/** An operator opened, held open or closed (released) a gate by hand. */
export interface GateOpened {
  readonly type: 'gate.opened';
  readonly gateId: string;
  readonly action: ManualActionKind;
  readonly by: string;
  readonly reason: string;
  readonly durationMs?: number | undefined;
  readonly timeMs: number;
}

export type GateEvent = GateDecision | GateOpened;

export type Direction = 'entry' | 'exit';

/** Per gate and track: the confirmation window and what was decided. */
export interface TrackGateState {
  readonly votes: readonly string[];
  /** The vote key (identity id or UNKNOWN) last decided for this track; undefined = pending. */
  readonly decidedKey: string | undefined;
  readonly granted: boolean;
  readonly recognitions: number;
  readonly lastTimeMs: number;
  readonly lastMasked: boolean;
  readonly lastScore: number | undefined;
}

export interface Passage {
  readonly gateId: string;
  readonly direction: Direction;
  readonly timeMs: number;
  /** The anti-passback area, for an area passage. */
  readonly area?: string | undefined;
  /** The node that recorded it, for a passage merged from another box (mergeExternalPassage). */
  readonly nodeId?: string | undefined;
}

/** A passage recorded on another node of the fleet, as the area state delivers it. */
export interface ExternalPassage {
  readonly area: string;
  readonly identityId: string;
  readonly gateId: string;
  readonly nodeId: string;
  readonly direction: Direction;
  readonly timeMs: number;
}

/** The fleet link behind the anti-passback areas, as the gates see it. */
export interface AreaSync {
  readonly mode: AreaSyncMode;
  /** When this mode began (wall clock of the box). */
  readonly sinceMs: number;
  /** Why it is stale (for people: logs, the gate view). */
  readonly reason?: string | undefined;
}

export interface ManualGateState {
  readonly mode: 'held-open';
  readonly by: string;
  readonly since: number;
  /** undefined = until closed. */
  readonly until: number | undefined;
}

/**
 * Everything decide() remembers, immutable (every call returns a new state; maps are copied on
 * write). One GateState serves all gates so paired gates share passages.
 */
export interface GateState {
  /** key: trackKey(gateId, trackId) */
  readonly tracks: ReadonlyMap<string, TrackGateState>;
  /** key: grantKey(gateId, identityId) -> time of the last grant (cooldown). */
  readonly lastGrants: ReadonlyMap<string, number>;
  /**
   * key: passageKey(pair, identityId) for a local pair, areaPassageKey(area, identityId) for an
   * area -> the last passage (anti-passback).
   */
  readonly passages: ReadonlyMap<string, Passage>;
  /** key: gateId -> manual hold-open, when one is active. */
  readonly manual: ReadonlyMap<string, ManualGateState>;
  /** The fleet link behind the areas; 'local' without one. */
  readonly areaSync: AreaSync;
}

export const EMPTY_GATE_STATE: GateState = Object.freeze({
  tracks: new Map<string, TrackGateState>(),
  lastGrants: new Map<string, number>(),
  passages: new Map<string, Passage>(),
  manual: new Map<string, ManualGateState>(),
  areaSync: Object.freeze({ mode: 'local', sinceMs: 0 }),
});

/** Vote for a face.unknown recognition. */
export const UNKNOWN_VOTE = '\u0000unknown';
/** Vote for a recognition under the gate's minScore: counts for nobody. */
export const LOW_VOTE = '\u0000low';

const SEP = '\u0000';
export const trackKey = (gateId: string, trackId: string): string => `${gateId}${SEP}${trackId}`;
export const grantKey = (gateId: string, identityId: string): string => `${gateId}${SEP}${identityId}`;
/** The pair's key is the same from both of its gates. */
export const pairKey = (a: string, b: string): string => (a < b ? `${a}${SEP}${b}` : `${b}${SEP}${a}`);
export const passageKey = (pair: string, identityId: string): string => `${pair}${SEP}${identityId}`;
/** An area's key cannot meet a pair's (a gate id never starts with \u0001). */
export const areaPassageKey = (area: string, identityId: string): string => `\u0001${area}${SEP}${identityId}`;

/** Where a gate keeps the last passage of an identity; undefined without anti-passback. */
export function antiPassbackKey(policy: GatePolicy, identityId: string): string | undefined {
  const ap = policy.antiPassback;
  if (!ap) return undefined;
  if (ap.area !== undefined) return areaPassageKey(ap.area, identityId);
  return ap.pairedGateId === undefined ? undefined : passageKey(pairKey(policy.id, ap.pairedGateId), identityId);
}

function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V | undefined): ReadonlyMap<K, V> {
  const next = new Map(map);
  if (value === undefined) next.delete(key);
  else next.set(key, value);
  return next;
}

export function voteOf(policy: GatePolicy, r: RecognitionInput): string {
  if (r.type !== 'face.recognized' || !r.identityId) return UNKNOWN_VOTE;
  const c = policy.confirmation;
  // A masked face has its own floor (masked similarities run on another scale), else minScore.
  const floor = r.masked ? (c.minScoreMasked ?? c.minScore) : c.minScore;
  if (floor !== undefined && (r.score === undefined || r.score < floor)) return LOW_VOTE;
  return r.identityId;
}

/** Is this identity on the gate's allow lists (by id, by name, or by a group)? */
export function isAllowed(policy: GatePolicy, r: Pick<RecognitionInput, 'identityId' | 'name' | 'groups'>): boolean {
  const ids = policy.allow.identities;
  if (r.identityId !== undefined && ids.includes(r.identityId)) return true;
  if (r.name !== undefined && ids.includes(r.name)) return true;
  const groups = r.groups ?? [];
  return policy.allow.groups.some((g) => groups.includes(g));
}

/**
 * The liveness check of a gate that requires it: 'wait' while the liveness models have not seen
 * enough of the track (a decision on one or two frames would be a coin toss), 'pass' at or above
 * the threshold (the gate's own, else the models' calibrated one), else 'fail' — also when no
 * liveness was read at all or no threshold is known (fail closed). undefined: not required.
 */
export function livenessCheck(policy: GatePolicy, r: RecognitionInput): { readonly verdict: 'pass' | 'fail' | 'wait'; readonly evidence: DecisionLiveness } | undefined {
  if (!policy.liveness.required) return undefined;
  const e = r.livenessEvidence;
  const threshold = policy.liveness.threshold ?? e?.threshold;
  const evidence: DecisionLiveness = { score: r.liveness, frames: e?.frames ?? 0, threshold, rule: e?.rule ?? 'median' };
  if (e !== undefined && e.score === undefined) return { verdict: 'wait', evidence };
  const pass = r.liveness !== undefined && threshold !== undefined && r.liveness >= threshold;
  return { verdict: pass ? 'pass' : 'fail', evidence };
}

/** The first failing check in the documented order, or undefined for a grant. */
export function denyReason(policy: GatePolicy, state: GateState, r: RecognitionInput, vote: string, nowMs: number): DenyReason | undefined {
  if (livenessCheck(policy, r)?.verdict === 'fail') return 'liveness';
  if (policy.maskPolicy === 'deny' && r.masked) return 'mask-policy';
  if (policy.maskPolicy === 'require' && !r.masked) return 'mask-policy';
  if (vote === UNKNOWN_VOTE) return 'unknown';
  if (!isAllowed(policy, r)) return 'not-allowed';
  if (!scheduleOpen(policy.schedule, nowMs)) return 'outside-schedule';
  const last = state.lastGrants.get(grantKey(policy.id, vote));
  if (last !== undefined && nowMs - last < policy.cooldownMs) return 'cooldown';
  const ap = policy.antiPassback;
  const key = antiPassbackKey(policy, vote);
  if (ap?.direction === 'entry' && key !== undefined) {
    const p = state.passages.get(key);
    if (p && p.direction === 'entry' && nowMs - p.timeMs < ap.windowMs) return 'anti-passback';
  }
  return undefined;
}

const EMPTY_TRACK: TrackGateState = Object.freeze({ votes: [], decidedKey: undefined, granted: false, recognitions: 0, lastTimeMs: 0, lastMasked: false, lastScore: undefined });

export interface DecideResult {
  /** undefined: the camera is not this gate's, the track is pending, already decided, or a repeat. */
  readonly decision: GateDecision | undefined;
  readonly state: GateState;
  /** Set when the decision was withheld because the person was just granted here (cooldown). */
  readonly repeat?: 'cooldown';
}

/** One recognition at one gate. See the module comment for the rules and their order. */
export function decide(policy: GatePolicy, state: GateState, recognition: RecognitionInput, nowMs: number): DecideResult {
  if (!policy.cameras.includes(recognition.cameraId)) return { decision: undefined, state };
  // Outside the gate's zone a face is not at this door: no vote, no decision, no state.
  if (policy.zone !== undefined && !(recognition.zones ?? []).includes(policy.zone)) return { decision: undefined, state };
  const tk = trackKey(policy.id, recognition.trackId);
  const prev = state.tracks.get(tk) ?? EMPTY_TRACK;
  const vote = voteOf(policy, recognition);
  const votes = [...prev.votes, vote].slice(-policy.confirmation.m);
  const track: TrackGateState = {
    ...prev,
    votes,
    recognitions: prev.recognitions + 1,
    lastTimeMs: nowMs,
    lastMasked: recognition.masked,
    lastScore: recognition.score,
  };
  const count = votes.reduce((c, v) => (v === vote ? c + 1 : c), 0);
  const liveness = livenessCheck(policy, recognition);
  // Waiting for liveness keeps the votes: the recognizer re-announces the track once it is known.
  const pending = vote === LOW_VOTE || count < policy.confirmation.n || liveness?.verdict === 'wait';
  const alreadyDecided = vote === prev.decidedKey || (vote === UNKNOWN_VOTE && prev.decidedKey !== undefined);
  if (pending || alreadyDecided) return { decision: undefined, state: { ...state, tracks: withEntry(state.tracks, tk, track) } };

  const reason = denyReason(policy, state, recognition, vote, nowMs);
  const known = vote !== UNKNOWN_VOTE;
  const base = {
    gateId: policy.id,
    cameraId: recognition.cameraId,
    trackId: recognition.trackId,
    identityId: known ? recognition.identityId : undefined,
    name: known ? recognition.name : undefined,
    score: recognition.score,
    liveness: recognition.liveness,
    ...(liveness ? { livenessEvidence: liveness.evidence } : {}),
    masked: recognition.masked,
    timeMs: nowMs,
    ...(policy.antiPassback?.area !== undefined ? { area: { id: policy.antiPassback.area, direction: policy.antiPassback.direction, state: state.areaSync.mode } } : {}),
  };
  const decided: TrackGateState = { ...track, decidedKey: vote, granted: track.granted || reason === undefined };
  let next: GateState = { ...state, tracks: withEntry(state.tracks, tk, decided) };
  if (reason === 'cooldown') return { decision: undefined, state: next, repeat: 'cooldown' };
  if (reason !== undefined) return { decision: { type: 'gate.denied', reason, ...base }, state: next };

  next = { ...next, lastGrants: withEntry(next.lastGrants, grantKey(policy.id, vote), nowMs) };
  const ap = policy.antiPassback;
  const key = antiPassbackKey(policy, vote);
  if (ap && key !== undefined) {
    const passage: Passage = { gateId: policy.id, direction: ap.direction, timeMs: nowMs, ...(ap.area !== undefined ? { area: ap.area } : {}) };
    next = { ...next, passages: withEntry(next.passages, key, passage) };
  }
  return { decision: { type: 'gate.granted', ...base }, state: next };
}

/**
 * A passage another node recorded (the fleet's area state) joins the local state: the newer
 * capture time wins, so an older or repeated one (this box's own grant coming back, a replay
 * after a reconnect) changes nothing, and a passage never moves back in time. Returns the same
 * object when nothing changed. Pure: whether the area matters here is pruneGateState's business.
 */
export function mergeExternalPassage(state: GateState, p: ExternalPassage): GateState {
  if (!p.area || !p.identityId || !Number.isFinite(p.timeMs)) return state;
  const key = areaPassageKey(p.area, p.identityId);
  const current = state.passages.get(key);
  if (current !== undefined && current.timeMs >= p.timeMs) return state;
  const passage: Passage = { gateId: p.gateId, direction: p.direction, timeMs: p.timeMs, area: p.area, nodeId: p.nodeId };
  return { ...state, passages: withEntry(state.passages, key, passage) };
}

/** The fleet link's health as the area gates record it; the same object when the mode is unchanged. */
export function setAreaSync(state: GateState, sync: AreaSync): GateState {
  if (state.areaSync.mode === sync.mode && state.areaSync.reason === sync.reason) return state;
  return { ...state, areaSync: sync };
}

/**
 * A track ended. If it was seen at this gate and never confirmed, that is one final
 * gate.denied 'low-confidence' (without an identity: none was confirmed). The track's state is
 * dropped either way.
 */
export function endTrack(policy: GatePolicy, state: GateState, end: TrackEndInput, nowMs: number): DecideResult {
  if (!policy.cameras.includes(end.cameraId)) return { decision: undefined, state };
  const tk = trackKey(policy.id, end.trackId);
  const track = state.tracks.get(tk);
  if (!track) return { decision: undefined, state };
  const next: GateState = { ...state, tracks: withEntry(state.tracks, tk, undefined) };
  if (track.decidedKey !== undefined) return { decision: undefined, state: next };
  return {
    decision: {
      type: 'gate.denied',
      reason: 'low-confidence',
      gateId: policy.id,
      cameraId: end.cameraId,
      trackId: end.trackId,
      score: track.lastScore,
      masked: track.lastMasked,
      timeMs: nowMs,
    },
    state: next,
  };
}

/**
 * A manual action by an operator: always produces an audited gate.opened event. 'hold-open'
 * records a hold in the state (until `durationMs` or a 'close'); 'close' ends it. Recognitions are
 * still decided (and audited) while a gate is held open. Throws GateError GATE_ACTION_INVALID
 * for a missing user or reason or a bad duration.
 */
export function manualAction(policy: GatePolicy, state: GateState, request: ManualActionRequest, nowMs: number): { event: GateOpened; state: GateState } {
  const by = request.by?.trim() ?? '';
  const reason = request.reason?.trim() ?? '';
  const context = { gate: policy.id, action: request.action };
  if (!(MANUAL_ACTIONS as readonly string[]).includes(request.action)) {
    throw new GateError('GATE_ACTION_INVALID', `unknown manual action '${String(request.action)}'`, { context, hint: "use 'open', 'hold-open' or 'close'" });
  }
  if (!by) throw new GateError('GATE_ACTION_INVALID', `manual '${request.action}' of gate '${policy.id}' without a user`, { context, hint: 'every manual action names the operator who did it (`by`)' });
  if (!reason) throw new GateError('GATE_ACTION_INVALID', `manual '${request.action}' of gate '${policy.id}' without a reason`, { context, hint: 'every manual action says why (`reason`)' });
  const d = request.durationMs;
  if (d !== undefined && (request.action !== 'hold-open' || !Number.isFinite(d) || d <= 0)) {
    throw new GateError('GATE_ACTION_INVALID', `durationMs ${d} is only valid as a positive number on 'hold-open'`, { context, hint: "drop durationMs, or use it with 'hold-open'" });
  }
  let manual = state.manual;
  if (request.action === 'hold-open') manual = withEntry(manual, policy.id, { mode: 'held-open', by, since: nowMs, until: d === undefined ? undefined : nowMs + d });
  else if (request.action === 'close') manual = withEntry(manual, policy.id, undefined);
  const event: GateOpened = { type: 'gate.opened', gateId: policy.id, action: request.action, by, reason, timeMs: nowMs, ...(d !== undefined ? { durationMs: d } : {}) };
  return { event, state: { ...state, manual } };
}

/** Is the gate held open by hand at `nowMs`? */
export function isHeldOpen(state: GateState, gateId: string, nowMs: number): boolean {
  const m = state.manual.get(gateId);
  return m !== undefined && (m.until === undefined || nowMs < m.until);
}

/**
 * Forget what can no longer matter at `nowMs`: tracks idle for `trackIdleMs` (their track.ended
 * was lost), grants older than their gate's cooldown, passages older than their pair's window,
 * expired holds. Returns the same object when nothing changed.
 */
export function pruneGateState(policies: readonly GatePolicy[], state: GateState, nowMs: number, trackIdleMs = 10 * 60_000): GateState {
  const byId = new Map(policies.map((p) => [p.id, p]));
  const tracks = new Map(state.tracks);
  for (const [k, t] of tracks) if (nowMs - t.lastTimeMs > trackIdleMs) tracks.delete(k);
  const lastGrants = new Map(state.lastGrants);
  for (const [k, t] of lastGrants) {
    const gate = byId.get(k.slice(0, k.indexOf(SEP)));
    if (!gate || nowMs - t >= gate.cooldownMs) lastGrants.delete(k);
  }
  // An area's passages live as long as the longest window of this box's gates in that area (they
  // may come from gates elsewhere); an area no gate here names is forgotten.
  const areaWindow = new Map<string, number>();
  for (const g of policies) {
    const a = g.antiPassback?.area;
    if (a !== undefined) areaWindow.set(a, Math.max(areaWindow.get(a) ?? 0, g.antiPassback?.windowMs ?? 0));
  }
  const passages = new Map(state.passages);
  for (const [k, p] of passages) {
    const windowMs = p.area !== undefined ? areaWindow.get(p.area) : byId.get(p.gateId)?.antiPassback?.windowMs;
    if (windowMs === undefined || nowMs - p.timeMs >= windowMs) passages.delete(k);
  }
  const manual = new Map(state.manual);
  for (const [k, m] of manual) if (m.until !== undefined && nowMs >= m.until) manual.delete(k);
  const same = tracks.size === state.tracks.size && lastGrants.size === state.lastGrants.size && passages.size === state.passages.size && manual.size === state.manual.size;
  return same ? state : { tracks, lastGrants, passages, manual, areaSync: state.areaSync };
}

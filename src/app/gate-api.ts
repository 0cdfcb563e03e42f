/**
 * The gates as the API and the MQTT sink see them: each gate with its manual hold and, for an
 * anti-passback gate, how current its area state is (fleet mode: fresh / stale; else local), and
 * manual open / hold / close requests that go to the gate stage.
 */
import type { Subject } from 'rxjs';
import type { GateApi } from '../api/server.ts';
import type { GatePolicy, GateState, ManualRequest } from '../gates/index.ts';

export function gateView(g: GatePolicy, state: GateState) {
  const ap = g.antiPassback;
  const antiPassback =
    ap === undefined
      ? null
      : ap.area !== undefined
        ? { area: ap.area, direction: ap.direction, state: state.areaSync.mode, ...(state.areaSync.reason ? { reason: state.areaSync.reason } : {}) }
        : { pairedGateId: ap.pairedGateId, direction: ap.direction };
  return { id: g.id, name: g.name, cameras: g.cameras, manual: state.manual.get(g.id) ?? null, antiPassback };
}

export function createGateApi(gates: () => readonly GatePolicy[], state: () => GateState, manual$: Subject<ManualRequest>): GateApi {
  return {
    list: () => gates().map((g) => gateView(g, state())),
    get: (id) => {
      const g = gates().find((x) => x.id === id);
      return g ? gateView(g, state()) : undefined;
    },
    manual: async (gateId, action, by, reason) => {
      manual$.next({ gateId, action, by, reason: reason || '(no reason given)', timeMs: Date.now() });
      return { ok: true, gateId, action };
    },
  };
}

/**
 * Fleet mode on a box (src/fleet/edge.ts), as a part of the service: the forwarder and snapshot
 * uploader on the service's sink runner, the gallery following the hub's, other boxes' passages
 * into the gates' area inputs. Gates keep deciding here whatever the network does; area gates
 * name the area state in health (stale: the box decides from local state).
 */
import type { Subject } from 'rxjs';
import type { Config } from '../config/index.ts';
import type { EventBus, EventLog, SnapshotStore } from '../events/index.ts';
import { snapshotBytes, startFleetEdge, type FleetEdge } from '../fleet/edge.ts';
import type { Gallery } from '../gallery/index.ts';
import type { AreaInput, GatePolicy } from '../gates/index.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import { applyFleetErasure, type FleetErasure } from './erasure.ts';
import type { ServiceSinks } from './sinks.ts';
import type { SinkHealthSample } from './health.ts';

export interface ServiceFleet {
  readonly edge: FleetEdge | undefined;
  /** The area link's health when area gates depend on it (empty otherwise). */
  areaHealth(): SinkHealthSample[];
}

/**
 * The hub's erasure of a person, replayed on this box: the box's own erasure under the hub's
 * erasure id (its receipt on the bus: the MQTT sink clears the retained topics, the forwarder
 * tells the hub). Idempotent.
 */
export function fleetErasureHandler(p: { readonly gallery: Gallery; readonly eventLog: EventLog; readonly bus: EventBus; readonly snapshots: SnapshotStore; readonly log: Logger }): (r: FleetErasure) => Promise<void> {
  return async (r) => {
    const receipt = await applyFleetErasure({ gallery: p.gallery, eventLog: p.eventLog, snapshots: p.snapshots, publish: (e) => p.bus.publish(e) }, r);
    if (receipt) p.log.info({ erasureId: receipt.erasureId, events: receipt.events, snapshots: receipt.snapshots, templates: receipt.templates }, 'fleet: the hub\'s erasure was replayed on this box');
  };
}

export function startServiceFleet(initial: Config, p: { readonly gallery: Gallery; readonly eventLog: EventLog; readonly bus: EventBus; readonly sinks: ServiceSinks; readonly snapshots: SnapshotStore; readonly gates: () => readonly GatePolicy[]; readonly areaInputs$: Subject<AreaInput>; readonly log: Logger }, lifetime: Lifetime): ServiceFleet {
  if (initial.fleet?.role !== 'edge') return { edge: undefined, areaHealth: () => [] };
  const hasAreaGates = (): boolean => p.gates().some((g) => g.antiPassback?.area !== undefined);
  const onErasure = fleetErasureHandler(p);
  const edge = startFleetEdge({ fleet: initial.fleet, gallery: p.gallery, runner: p.sinks.runner, cursors: p.sinks.cursors, logger: p.log, readSnapshot: (id, kind) => snapshotBytes(p.snapshots, id, kind), hasAreaGates, onErasure });
  lifetime.add('fleet', () => edge.close());
  const areaFeed = edge.passages.inputs$.subscribe(p.areaInputs$);
  lifetime.add('area feed', () => areaFeed.unsubscribe());
  return {
    edge,
    areaHealth: () => {
      if (!hasAreaGates()) return [];
      const s = edge.passages.status();
      return [{ name: 'fleet-areas', connected: s.mode === 'fresh', lag: 0, lastError: s.reason }];
    },
  };
}

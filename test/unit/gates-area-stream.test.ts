/**
 * Anti-passback areas in the pipeline tail (decideGates -> publishEvents -> the event log): a
 * passage of another node arrives on the area input and denies here; a hot-reloaded gate set keeps
 * the merged passages and the area state (stale stays stale until the fleet says otherwise); the
 * logged gate events carry `data.area` and pass the log's v1 schema.
 */
import t from 'tap';
import { BehaviorSubject, lastValueFrom, Subject, toArray } from 'rxjs';
import { decideGates, publishEvents, recognitionItem, type PipelineItem } from '../../src/pipeline/index.ts';
import { parseGates, type AreaInput, type GatePolicy } from '../../src/gates/index.ts';
import type { Recognition } from '../../src/recognize/index.ts';
import type { Frame } from '../../src/types.ts';
import { tempEventBox } from '../helpers/event-box.ts';
import { aliceRecognition, greyFrame } from '../helpers/recognition.ts';

const T0 = Date.parse('2026-01-05T10:00:00Z');
const frame: Frame = greyFrame('lobby', T0);
const recognition = (trackId: string, timeMs: number): Recognition => aliceRecognition(frame, { trackId, timeMs });

const lobby = (name?: string): GatePolicy[] => parseGates([{ id: 'lobby-in', ...(name ? { name } : {}), cameras: ['lobby'], liveness: { required: false }, allow: { groups: ['staff'] }, confirmation: { n: 1, m: 1 }, cooldownMs: 0, antiPassback: { area: 'hq-lobby', direction: 'entry', windowMs: 3_600_000 } }]);

t.test('area input -> denial; a new gate set keeps passages and area state; events carry data.area', async (t) => {
  const { log, bus } = tempEventBox(t, 'fg-area-tail-');
  const gates$ = new BehaviorSubject<readonly GatePolicy[]>(lobby());
  const area$ = new Subject<AreaInput>();
  const items = new Subject<PipelineItem>();
  const done = lastValueFrom(items.pipe(decideGates(gates$, { areaInputs: area$ }), publishEvents(bus), toArray()));

  area$.next({ type: 'area.sync', sync: { mode: 'fresh', sinceMs: T0 } });
  area$.next({ type: 'area.passage', passage: { area: 'hq-lobby', identityId: 'alice-id', gateId: 'b-lobby-in', nodeId: 'door-b', direction: 'entry', timeMs: T0 } });
  items.next(recognitionItem(recognition('lobby:1', T0 + 1000)));
  area$.next({ type: 'area.sync', sync: { mode: 'stale', sinceMs: T0 + 2000, reason: 'NATS not available' } });
  gates$.next(lobby('Lobby entry (renamed)'));
  items.next(recognitionItem(recognition('lobby:2', T0 + 3000)));
  // The new operator listens to the area input too: the exit at the other box lets her in.
  area$.next({ type: 'area.passage', passage: { area: 'hq-lobby', identityId: 'alice-id', gateId: 'b-lobby-out', nodeId: 'door-b', direction: 'exit', timeMs: T0 + 4000 } });
  items.next(recognitionItem(recognition('lobby:3', T0 + 5000)));
  items.complete();
  await done;

  const gateEvents = log.query({ types: ['gate.granted', 'gate.denied'], order: 'asc', limit: 10 });
  t.same(
    gateEvents.map((e) => `${e.type}:${(e.data as { reason?: string }).reason ?? ''}:${(e.data as { area?: { state?: string } }).area?.state ?? ''}`),
    ['gate.denied:anti-passback:fresh', 'gate.denied:anti-passback:stale', 'gate.granted::stale'],
    'denied from the other box\'s entry; after the swap still denied (passage kept) and stale (state kept); granted after the exit there',
  );
  t.same(gateEvents[2].data.area, { id: 'hq-lobby', direction: 'entry', state: 'stale' }, 'data.area in the logged (schema-checked) event');
});

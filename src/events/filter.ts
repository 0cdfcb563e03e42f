/**
 * Subscription filters. Pure. A filter is a conjunction of optional lists; an absent or empty list
 * does not restrict. A present list matches only events that *carry* that field with a listed
 * value: a filter on cameras never passes system.health or gate.opened (they have no camera).
 * Type entries are exact types (`gate.denied`), a family (`gate.*`), or `*`.
 * EventLog.since applies the same rules in SQL; a test holds the two together.
 * `nodes` and `sites` select by the box an event came from: only a fleet hub's events carry them
 * (src/fleet), so on a single box such a filter matches nothing, like any absent field.
 */
import { z } from 'zod';
import { EventsError } from './errors.ts';
import type { Event } from './types.ts';
import { EVENT_TYPE_PATTERN } from '../types.ts';

export interface EventFilter {
  readonly cameras?: readonly string[] | undefined;
  readonly gates?: readonly string[] | undefined;
  readonly types?: readonly string[] | undefined;
  readonly identities?: readonly string[] | undefined;
  /** Fleet node ids (hub events only). */
  readonly nodes?: readonly string[] | undefined;
  /** Fleet sites (hub events only). */
  readonly sites?: readonly string[] | undefined;
}

const TYPE_PATTERN_EXPECTED = "an event type ('gate.denied'), a family ('gate.*') or '*': lower-case words (underscores allowed) joined by dots, no spaces";

/** A value quoted for an error message: short, control characters escaped. */
const quote = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v).replace(/^"|"$/g, "'") : typeof v);

const idList = z.array(z.string().min(1).max(200)).max(1000);

/**
 * The one schema of a subscription filter: the WebSocket protocol (src/api/protocol.ts) embeds it,
 * so a filter the protocol accepts is a filter the bus and the log can run.
 */
export const eventFilterSchema = z.strictObject({
  cameras: idList.optional(),
  gates: idList.optional(),
  types: z
    .array(z.string().max(200).regex(EVENT_TYPE_PATTERN, { error: (iss) => `${quote(iss.input)} is not ${TYPE_PATTERN_EXPECTED}` }))
    .max(100)
    .optional(),
  identities: idList.optional(),
  nodes: idList.optional().meta({ description: 'fleet node ids: events a hub received from these edges' }),
  sites: idList.optional().meta({ description: 'fleet sites: events a hub received from edges of these sites' }),
});

/** Validate a filter from outside (an API message). Throws EventsError EVENT_FILTER_INVALID. */
export function parseEventFilter(input: unknown): EventFilter {
  const r = eventFilterSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  throw new EventsError('EVENT_FILTER_INVALID', `invalid event filter: ${r.error.issues.map((i) => `${i.path.join('.') || 'filter'}: ${i.message}`).join('; ')}`, {
    hint: `a filter is { cameras?, gates?, types?, identities?, nodes?, sites? }, each a list of strings; types are ${TYPE_PATTERN_EXPECTED}`,
  });
}

export function isTypePattern(s: string): boolean {
  return EVENT_TYPE_PATTERN.test(s);
}

export function typeMatches(type: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return type === pattern;
}

const restricts = (list: readonly string[] | undefined): list is readonly string[] => list !== undefined && list.length > 0;

/** Where a hub's event came from (absent on a single box's events). */
export interface EventOrigin {
  readonly nodeId?: string | undefined;
  readonly site?: string | undefined;
}

export function matchesFilter(event: Pick<Event, 'type' | 'cameraId' | 'gateId' | 'identityId'> & EventOrigin, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  if (restricts(filter.types) && !filter.types.some((p) => typeMatches(event.type, p))) return false;
  if (restricts(filter.cameras) && (event.cameraId === undefined || !filter.cameras.includes(event.cameraId))) return false;
  if (restricts(filter.gates) && (event.gateId === undefined || !filter.gates.includes(event.gateId))) return false;
  if (restricts(filter.identities) && (event.identityId === undefined || !filter.identities.includes(event.identityId))) return false;
  if (restricts(filter.nodes) && (event.nodeId === undefined || !filter.nodes.includes(event.nodeId))) return false;
  if (restricts(filter.sites) && (event.site === undefined || !filter.sites.includes(event.site))) return false;
  return true;
}

/** The same filter as a SQL condition over the events table (parameters in order). */
export function filterSql(filter: EventFilter | undefined): { where: string; params: (string | number)[] } {
  const parts: string[] = [];
  const params: (string | number)[] = [];
  if (!filter) return { where: '1', params };
  const inList = (column: string, list: readonly string[] | undefined): void => {
    if (!restricts(list)) return;
    parts.push(`${column} IN (${list.map(() => '?').join(', ')})`);
    params.push(...list);
  };
  if (restricts(filter.types)) {
    const ors: string[] = [];
    for (const p of filter.types) {
      if (!isTypePattern(p)) throw new EventsError('EVENT_FILTER_INVALID', `invalid type pattern '${p}'`, { hint: "use 'gate.denied', 'gate.*' or '*'" });
      if (p === '*') ors.push('1');
      else if (p.endsWith('.*')) {
        // substr-compare rather than LIKE: no wildcard characters to escape, exact prefix.
        ors.push('substr(type, 1, ?) = ?');
        const prefix = p.slice(0, -1);
        params.push(prefix.length, prefix);
      } else {
        ors.push('type = ?');
        params.push(p);
      }
    }
    parts.push(`(${ors.join(' OR ')})`);
  }
  inList('camera_id', filter.cameras);
  inList('gate_id', filter.gates);
  inList('identity_id', filter.identities);
  // A box's log has no origin columns: its events carry no node or site, so nothing matches.
  if (restricts(filter.nodes) || restricts(filter.sites)) parts.push('0');
  return { where: parts.length ? parts.join(' AND ') : '1', params };
}

/**
 * Audit events of the hub's own origin for identity changes made through it (its API,
 * `facegate enroll --hub`, `hub-identities remove`), checked like every logged event before they
 * go into the same transaction as the change.
 */
import { eventSchema, EventsError, type NewEventOf } from '../events/index.ts';

/** The audit events the hub writes for identity changes made through its API. */
export type HubAuditEvent = NewEventOf<'identity.created' | 'identity.updated' | 'identity.removed' | 'identity.erased'>;

/**
 * An audit event of the hub's own origin (its nodeId and site from the config), written in the
 * same transaction as the identity change it records: a change is never without its record.
 * Its event id is the origin's next one (max + 1 under the events lock: unique and monotonic).
 */
export interface HubAudit {
  readonly nodeId: string;
  readonly site: string;
  readonly event: HubAuditEvent;
}

/** An audit event checked against the event schema v1, waiting for its id. */
export interface PreparedAudit {
  readonly nodeId: string;
  readonly site: string;
  readonly type: HubAuditEvent['type'];
  readonly timeMs: number;
  readonly identityId: string;
  /** The v1 event without `v` and `id`. */
  readonly body: Record<string, unknown>;
}

/** Validate an audit event like every logged event (schema v1); EventsError EVENT_INVALID otherwise. */
export function prepareAudit(a: HubAudit): PreparedAudit {
  const time = Number.isFinite(a.event.timeMs) ? new Date(a.event.timeMs).toISOString() : '';
  const r = eventSchema.safeParse({ ...a.event, v: 1, id: 1, time });
  if (!r.success) {
    throw new EventsError('EVENT_INVALID', `invalid ${a.event.type} audit event: ${r.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ')}`, {
      context: { type: a.event.type },
      hint: 'see src/events/schema.v1.json for the fields each event type requires',
    });
  }
  const { id: _placeholder, v: _v, ...rest } = r.data;
  return { nodeId: a.nodeId, site: a.site, type: a.event.type, timeMs: rest.timeMs, identityId: a.event.identityId, body: rest };
}

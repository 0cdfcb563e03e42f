/**
 * Typed events (v1 envelope + JSON Schema), filters, the durable SQLite log, the bus with
 * replay-then-live, and face snapshots.
 */
export { eventSchema, EVENT_TYPES, SNAPSHOT_ID_PATTERN, type Event, type EventType, type EventOf, type NewEvent, type NewEventOf, type EventRouting } from './types.ts';
export { eventJsonSchema, eventJsonSchemaText, EVENT_SCHEMA_ID } from './schema.ts';
export { matchesFilter, typeMatches, isTypePattern, filterSql, parseEventFilter, eventFilterSchema, type EventFilter } from './filter.ts';
export { EventLog, ERASED_NAME, tombstoneEvent, EVENT_LOG_VERSION, MAX_PAGE, type EventLogOptions, type EventRetention, type EventQuery, type PruneResult } from './log.ts';
export { EventBus, type EventBusOptions } from './bus.ts';
export { SnapshotStore, isSnapshotId, snapshotTime, cropRect, type SnapshotStoreOptions, type SnapshotInfo, type SnapshotKind } from './snapshots.ts';
export { EventsError, isEventsError, type EventsErrorCode, type EventsErrorContext } from './errors.ts';
export { EventThrottle } from './throttle.ts';

/**
 * The v1 event JSON Schema (draft 2020-12), generated from the zod schema in types.ts with zod 4's
 * z.toJSONSchema. src/events/schema.v1.json is this output, committed for clients in other
 * languages; `npx tsx src/events/write-schema.ts` rewrites it and a test fails when it is stale.
 */
import { z } from 'zod';
import { eventSchema } from './types.ts';

export const EVENT_SCHEMA_ID = 'urn:facegate:schema:event:v1';

export function eventJsonSchema(): Record<string, unknown> {
  const { $schema, ...body } = z.toJSONSchema(eventSchema, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>;
  return {
    $schema,
    $id: EVENT_SCHEMA_ID,
    title: 'facegate event, v1',
    description:
      'One event of the facegate log and bus. Envelope { v, id, type, time, timeMs, cameraId?, gateId?, trackId?, identityId?, data }; `type` selects the variant. The envelope is closed; `data` objects are open (ignore unknown fields).',
    ...body,
  };
}

/** The exact text of src/events/schema.v1.json. */
export function eventJsonSchemaText(): string {
  return `${JSON.stringify(eventJsonSchema(), null, 2)}\n`;
}

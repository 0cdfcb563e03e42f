/** Rewrites src/events/schema.v1.json from the zod schema: `npx tsx src/events/write-schema.ts`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventJsonSchemaText } from './schema.ts';

const file = fileURLToPath(new URL('./schema.v1.json', import.meta.url));
writeFileSync(file, eventJsonSchemaText());
process.stdout.write(`wrote ${file}\n`);

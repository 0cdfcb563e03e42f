/** Rewrites src/api/protocol.v1.json from the zod schemas: `npx tsx src/api/write-protocol-schema.ts`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { protocolJsonSchemaText } from './protocol.ts';

const file = fileURLToPath(new URL('./protocol.v1.json', import.meta.url));
writeFileSync(file, protocolJsonSchemaText());
process.stdout.write(`wrote ${file}\n`);

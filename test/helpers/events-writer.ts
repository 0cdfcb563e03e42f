/**
 * Child process for the crash test: `node --import tsx test/helpers/events-writer.ts DB [COUNT]`.
 * Appends COUNT events (default a million) to the log at DB and writes each id to stdout, with a
 * synchronous write, only after append() has returned. The parent SIGKILLs it mid-burst.
 */
import { writeSync } from 'node:fs';
import { EventLog } from '../../src/events/index.ts';

const [db, countArg] = process.argv.slice(2);
if (!db) {
  process.stderr.write('usage: events-writer.ts DB [COUNT]\n');
  process.exit(2);
}
const count = Number(countArg ?? 1_000_000);
const log = new EventLog(db);
writeSync(1, `ready ${log.lastId()}\n`);
for (let i = 0; i < count; i++) {
  const e = log.append({
    type: 'gate.denied',
    gateId: 'front',
    cameraId: 'cam1',
    trackId: `cam1:${i}`,
    identityId: `person-${i % 17}`,
    timeMs: Date.now(),
    data: { reason: 'not-allowed', masked: i % 2 === 0, score: 0.5, name: 'x'.repeat(i % 300) },
  });
  writeSync(1, `${e.id}\n`);
}
log.close();
writeSync(1, 'done\n');

/** A box's event side in a temp dir for sink tests: the SQLite event log, its bus and the sinks' cursor store, closed and removed at teardown. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBus, EventLog } from '../../src/events/index.ts';
import { CursorStore } from '../../src/outputs/index.ts';

export function tempEventBox(t: { teardown(fn: () => void): void }, prefix = 'fg-box-'): { dir: string; log: EventLog; bus: EventBus; cursors: CursorStore } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const log = new EventLog(join(dir, 'events.sqlite'));
  const bus = new EventBus(log);
  const cursors = new CursorStore(join(dir, 'outputs.sqlite'));
  t.teardown(() => {
    cursors.close();
    bus.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, log, bus, cursors };
}

/**
 * `facegate demo --fleet --json`: a local nats-server and PostgreSQL, the hub and two edges on
 * the door clip, enrollment at the hub; one JSON summary with 0 duplicates and 0 missing.
 */
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { ROOT } from '../helpers/fleet-procs.ts';

t.test('demo --fleet --json', async (t) => {
  const r = spawnSync(process.execPath, ['bin/facegate.js', 'demo', '--fleet', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
  t.equal(r.status, 0, r.stderr.slice(-2000));
  const lines = r.stdout.trim().split('\n');
  t.equal(lines.length, 1, 'only the summary on stdout');
  const s = JSON.parse(lines[0]) as { nodes: number; eventsAtHub: number; duplicates: number; missing: number; galleryPropagationMs: number; perNode: Record<string, { granted: number; denied: number; events: number; atHub: number }> };
  t.equal(s.nodes, 2);
  t.equal(s.duplicates, 0);
  t.equal(s.missing, 0);
  t.ok(s.eventsAtHub > 10, `${s.eventsAtHub} events at the hub`);
  t.ok(s.galleryPropagationMs >= 0 && s.galleryPropagationMs < 5000, `gallery propagation ${s.galleryPropagationMs} ms`);
  for (const [node, p] of Object.entries(s.perNode)) {
    t.ok(p.granted >= 1 && p.denied >= 1, `${node}: ${p.granted} granted, ${p.denied} denied at its own gate`);
    t.equal(p.atHub, p.events, `${node}: every event at the hub`);
  }
});

// test-lane: brokers (waits on real servers, little CPU): two such files run at a time (scripts/test.sh)
/**
 * The real servers fleet mode runs on: nats-server with JetStream and auth, PostgreSQL 15 with
 * password auth. Each starts on a free port in a temp dir, refuses bad credentials, survives a
 * kill + restart with its data, and stops.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { NatsServer } from '../helpers/nats.ts';
import { Postgres } from '../helpers/postgres.ts';

t.test('nats-server: JetStream with auth, kill and restart keep the stream', async (t) => {
  const s = await NatsServer.start();
  t.teardown(() => s.stop());
  await t.rejects(connect({ servers: s.url, user: s.user.user, pass: 'wrong', reconnect: false }), /Authorization|authorization/i);
  const nc = await connect({ servers: s.url, user: s.user.user, pass: s.user.pass });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'T', subjects: ['t.>'] });
  const js = jetstream(nc);
  const a = await js.publish('t.a', 'x', { msgID: 'one' });
  const b = await js.publish('t.a', 'x', { msgID: 'one' });
  t.equal(a.duplicate, false);
  t.equal(b.duplicate, true, 'the server drops a duplicate message id');
  await nc.close();
  await s.kill();
  t.equal(s.running, false);
  await s.restart();
  const nc2 = await connect({ servers: s.url, user: s.user.user, pass: s.user.pass });
  const info = await (await jetstreamManager(nc2)).streams.info('T');
  t.equal(info.state.messages, 1, 'the stream survived the SIGKILL');
  await nc2.close();
});

t.test('postgres: password auth over TCP, crash and restart keep the data', async (t) => {
  const p = await Postgres.start();
  t.teardown(() => p.stop());
  const bad = new pg.Client({ host: '127.0.0.1', port: p.port, user: p.user, password: 'wrong', database: p.database });
  await t.rejects(bad.connect(), /password authentication failed/);
  const c = new pg.Client({ host: '127.0.0.1', port: p.port, user: p.user, password: p.password, database: p.database });
  await c.connect();
  await c.query('CREATE TABLE x (id int primary key)');
  await c.query('INSERT INTO x VALUES (1)');
  await c.end();
  await p.kill('immediate');
  t.equal(p.running, false);
  await p.restart();
  const c2 = new pg.Client({ host: '127.0.0.1', port: p.port, user: p.user, password: p.password, database: p.database });
  await c2.connect();
  t.same((await c2.query('SELECT id FROM x')).rows, [{ id: 1 }], 'committed rows survive a crash');
  await c2.end();
});

/** A real PostgreSQL 15 cluster for tests (src/fleet/local-servers.ts: the demo and the bench use it too). */
export { Postgres, PG_BIN, type PostgresOptions } from '../../src/fleet/local-servers.ts';

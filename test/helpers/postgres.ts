/** A real PostgreSQL 15 cluster for tests (src/dev/local-servers.ts: the demo and the bench use it too). */
export { Postgres, PG_BIN, type PostgresOptions } from '../../src/dev/local-servers.ts';

/** A real nats-server for tests (src/dev/local-servers.ts: the demo and the bench use it too). */
export { NatsServer, NATS_SERVER, type NatsServerOptions } from '../../src/dev/local-servers.ts';

/** The HTTP/WebSocket server's options from a config: one mapping for the box and the fleet hub. */
import type { ApiOptions } from '../api/server.ts';
import type { Config } from '../config/index.ts';

export function apiServerOptions(config: Config, port?: number): ApiOptions {
  return {
    bind: config.server.bind,
    port: port ?? config.server.port,
    authEnabled: config.auth.enabled,
    allowedOrigins: config.server.allowedOrigins,
    maxMessageBytes: config.server.maxMessageBytes,
    eventsSocket: config.events.outputs.ws.enabled,
    sendBufferMessages: config.server.wsSendBufferMessages,
    tls: config.server.tls,
    limits: config.server.limits,
  };
}

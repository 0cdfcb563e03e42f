/**
 * The service box itself: `server:` (bind, TLS, origins, connection limits), `auth:` (tokens by
 * hash), `limits:` (how much one facegate may be asked to run), `gallery:` and `logging:`.
 */
import { z } from 'zod';
import { DEFAULT_CAMERA_START_STAGGER_MS, DEFAULT_MAX_CAMERAS, MAX_CAMERA_START_STAGGER_MS, MAX_ITEMS, MAX_LENGTH } from './limits.ts';
import { filePath } from './schema-common.ts';

const ORIGIN = /^https?:\/\/(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

export const serverSchema = z.strictObject({
  bind: z.string().min(1).max(MAX_LENGTH.host).default('127.0.0.1').meta({ description: "address to listen on; loopback by default. '0.0.0.0' exposes the API to the network" }),
  port: z.number().int().min(0).max(65_535).default(8640),
  tls: z.strictObject({ cert: filePath, key: filePath }).optional().meta({ description: 'PEM files; relative to the config file' }),
  allowedOrigins: z
    .array(z.string().max(MAX_LENGTH.origin).regex(ORIGIN, { error: "expected an origin such as 'https://door.example.com' (scheme, host, optional port; no path)" }))
    .max(MAX_ITEMS.allowedOrigins)
    .default([])
    .meta({ description: 'browser Origins allowed to open the WebSocket; non-browser clients send none' }),
  maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(64 * 1024),
  wsSendBufferMessages: z.number().int().min(1).max(1_000_000).default(1000).meta({ description: 'messages queued per slow client before it is dropped' }),
  /** What a door on a network meets: file-descriptor exhaustion, slowloris, token guessing. */
  limits: z
    .strictObject({
      maxConnections: z.number().int().min(1).max(1_000_000).default(1024).meta({ description: 'open TCP connections (HTTP + WebSocket) before new ones get 503' }),
      maxConnectionsPerAddress: z.number().int().min(1).max(1_000_000).default(64).meta({ description: 'open connections from one remote address' }),
      headersTimeoutMs: z.number().int().min(100).max(600_000).default(10_000).meta({ description: 'time a client has to send complete request headers' }),
      requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000).meta({ description: 'time a client has to send a whole request (uploads included)' }),
      idleTimeoutMs: z.number().int().min(100).max(600_000).default(5_000).meta({ description: 'an idle keep-alive HTTP connection is closed after this' }),
      authFailuresPerMinute: z.number().int().min(1).max(1_000_000).default(20).meta({ description: 'failed authentications per remote address per minute before 429' }),
    })
    .prefault({}),
});

export const tokenSchema = z.strictObject({
  id: z.string().min(1).max(64).meta({ description: 'who holds the token (shown in logs and events)' }),
  role: z.enum(['viewer', 'operator', 'admin']),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, { error: 'expected the sha256 hex of the token (64 characters)' })
    .meta({ description: 'sha256 hex of the token (`facegate config hash-token`); tokens are never stored' }),
});

/**
 * Auth is on by default. With no tokens nobody can connect (the health probes excepted), which is
 * the safe failure; configWarnings() says so. Turning auth off is refused on a non-loopback bind.
 */
export const authSchema = z.strictObject({
  enabled: z.boolean().default(true),
  tokens: z.array(tokenSchema).max(MAX_ITEMS.tokens).default([]),
});

export const gallerySchema = z.strictObject({
  db: filePath.default('data/gallery.sqlite'),
});

export const loggingSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i;
export const isLoopback = (bind: string): boolean => LOOPBACK.test(bind);

/**
 * How much one facegate may be asked to run. Every string and list in the file has a fixed
 * ceiling besides (src/config/limits.ts); these two are the ones a person tunes.
 */
export const limitsSchema = z.strictObject({
  maxCameras: z
    .number()
    .int()
    .min(1)
    .max(MAX_ITEMS.cameras)
    .default(DEFAULT_MAX_CAMERAS)
    .meta({ description: 'more cameras than this is an error; raise it deliberately (a 2-core box was measured at 4 cameras at 720p / 5 fps)' }),
  cameraStartStaggerMs: z
    .number()
    .int()
    .min(0)
    .max(MAX_CAMERA_START_STAGGER_MS)
    .default(DEFAULT_CAMERA_START_STAGGER_MS)
    .meta({ description: 'cameras start one after another, this many ms apart (at start and on hot reload)' }),
});

/**
 * The `fleet:` section: one facegate box as an edge node of a fleet, or the hub
 * (`facegate hub --config FILE`). Without `fleet:` nothing changes.
 *
 * Secrets follow the MQTT sink's rules: never in a URL (URLs are echoed in logs and tickets);
 * a password or token inline, or better a file only the service user reads; NATS creds / NKey
 * seed files by path. Paths resolve against the config's folder (parse.ts).
 */
import { z } from 'zod';
import { urlSecrets } from '../redact.ts';
import { MAX_LENGTH } from './limits.ts';
import { EVENT_TYPE_PATTERN } from '../types.ts';

interface IssueParams {
  readonly hint?: string;
}

const SLUG = /^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$/;
const slug = z.string().regex(SLUG, { error: "expected a slug: lowercase letters, digits, '-' and '_' (e.g. 'door-box-1'), at most 64 characters" });
const filePath = z.string().min(1).max(MAX_LENGTH.path);
const secret = z.string().min(1).max(MAX_LENGTH.secret);
/** NATS subject tokens: no dots, wildcards or spaces. */
const subjectToken = z.string().max(MAX_LENGTH.id).regex(/^[A-Za-z0-9_-]+$/, { error: "expected letters, digits, '-' and '_' (one NATS subject token)" });
/** JetStream stream / KV bucket / consumer names. */
const jsName = z.string().max(MAX_LENGTH.id).regex(/^[A-Za-z0-9_-]+$/, { error: "expected letters, digits, '-' and '_' (a JetStream name)" });
const NATS_URL = /^(?:nats|tls):\/\/\S+$/i;

const tlsSchema = z
  .strictObject({ ca: filePath.optional(), cert: filePath.optional(), key: filePath.optional() })
  .meta({ description: 'PEM files (ca: a private CA; cert + key: a client certificate)' });

export const natsConnectionSchema = z
  .strictObject({
    servers: z.array(z.string().min(1).max(MAX_LENGTH.url)).min(1).max(32).meta({ description: 'nats://HOST:4222 (or tls://); several for a cluster; no credentials in the URL' }),
    user: z.string().min(1).max(MAX_LENGTH.name).optional(),
    password: secret.optional().meta({ description: 'prefer passwordFile; never logged' }),
    passwordFile: filePath.optional(),
    token: secret.optional().meta({ description: 'prefer tokenFile; never logged' }),
    tokenFile: filePath.optional(),
    credsFile: filePath.optional().meta({ description: 'a NATS .creds file (JWT + NKey seed)' }),
    nkeySeedFile: filePath.optional().meta({ description: 'a file holding an NKey user seed (SU...)' }),
    tls: tlsSchema.optional(),
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
  })
  .superRefine((n, ctx) => {
    const add = (path: (string | number)[], message: string, hint: string): void => ctx.addIssue({ code: 'custom', path, message, params: { hint } satisfies IssueParams });
    n.servers.forEach((s, i) => {
      if (!NATS_URL.test(s)) add(['servers', i], 'expected a nats:// or tls:// URL', 'for example nats://192.0.2.10:4222');
      else if (urlSecrets(s).length > 0) add(['servers', i], 'the URL carries credentials; they would show in logs', 'write the URL without them and set `user:` + `passwordFile:`, `tokenFile:` or `credsFile:`');
    });
    const methods = [n.user !== undefined || n.password !== undefined || n.passwordFile !== undefined ? 'user' : undefined, n.token !== undefined || n.tokenFile !== undefined ? 'token' : undefined, n.credsFile !== undefined ? 'credsFile' : undefined, n.nkeySeedFile !== undefined ? 'nkeySeedFile' : undefined].filter((x) => x !== undefined);
    if (methods.length > 1) add([methods[1]], `give one way to authenticate, not ${methods.join(' and ')}`, 'keep one of user + passwordFile, tokenFile, credsFile or nkeySeedFile');
    if (n.password !== undefined && n.passwordFile !== undefined) add(['passwordFile'], 'give either `password` or `passwordFile`, not both', 'keep passwordFile and remove password');
    if (n.token !== undefined && n.tokenFile !== undefined) add(['tokenFile'], 'give either `token` or `tokenFile`, not both', 'keep tokenFile and remove token');
    if ((n.password !== undefined || n.passwordFile !== undefined) && n.user === undefined) add(['user'], 'a password needs a user', 'add `user: facegate` (the NATS user)');
    if (n.tls && (n.tls.cert === undefined) !== (n.tls.key === undefined)) add(['tls', n.tls.cert === undefined ? 'cert' : 'key'], 'a client certificate needs both cert and key', 'set both tls.cert and tls.key, or neither');
  });

export const postgresSchema = z
  .strictObject({
    host: z.string().min(1).max(MAX_LENGTH.host).default('127.0.0.1').meta({ description: 'host name, address, or a folder holding the unix socket' }),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1).max(63).default('facegate'),
    user: z.string().min(1).max(63).default('facegate'),
    password: secret.optional().meta({ description: 'prefer passwordFile; never logged' }),
    passwordFile: filePath.optional(),
    ssl: z.strictObject({ ca: filePath.optional(), rejectUnauthorized: z.boolean().default(true) }).optional(),
    poolSize: z.number().int().min(1).max(100).default(4),
  })
  .superRefine((p, ctx) => {
    if (p.password !== undefined && p.passwordFile !== undefined) ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give either `password` or `passwordFile`, not both', params: { hint: 'keep passwordFile and remove password' } satisfies IssueParams });
  });

/** The hub's own settings (`fleet.hub`, read only by `facegate hub`). */
export const hubSchema = z.strictObject({
  postgres: postgresSchema.prefault({}),
  retryMs: z.number().int().min(100).max(600_000).default(2000).meta({ description: 'first retry delay when PostgreSQL or NATS is down (doubles, capped at 30 s)' }),
  ackWaitMs: z
    .number()
    .int()
    .min(1000)
    .max(600_000)
    .default(10_000)
    .meta({ description: "JetStream redelivers a batch the hub fetched but did not acknowledge after this long: how soon a restarted hub (killed, crashed) gets the events it had in hand. While it holds a batch (PostgreSQL slow or down) it tells JetStream it is still working, so a short wait brings no duplicates (and PostgreSQL's primary key drops any)" }),
});

export const fleetSchema = z.strictObject({
  nodeId: slug.meta({ description: 'this box in the fleet (subjects, message ids, the hub\'s node list); unique per fleet' }),
  site: slug.meta({ description: 'the site this box belongs to (subject level, hub filters)' }),
  role: z.enum(['edge', 'hub']).default('edge').meta({ description: 'edge: forward events, follow the hub\'s gallery; hub: set by `facegate hub`' }),
  nats: natsConnectionSchema,
  names: z
    .strictObject({
      subjectPrefix: subjectToken.default('facegate').meta({ description: 'events go to <prefix>.<site>.<node>.events.<type>' }),
      eventsStream: jsName.default('FACEGATE_EVENTS'),
      galleryBucket: jsName.default('facegate-gallery').meta({ description: 'KV bucket: one key per identity, written by the hub' }),
      snapshotsBucket: jsName.default('facegate-snapshots').meta({ description: 'object store for face snapshots (uploaded lazily)' }),
      passagesBucket: jsName.default('facegate-passages').meta({ description: 'KV bucket: the last passage per anti-passback area and person, written by the hub' }),
      hubConsumer: jsName.default('facegate-hub').meta({ description: 'the hub\'s durable consumer on the events stream' }),
    })
    .prefault({}),
  forward: z
    .strictObject({
      types: z.array(z.string().max(MAX_LENGTH.word).regex(EVENT_TYPE_PATTERN, { error: "expected an event type ('gate.denied'), a family ('gate.*') or '*'" })).min(1).max(100).default(['*']),
      ackTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
    })
    .prefault({}),
  stream: z
    .strictObject({
      duplicateWindowMs: z.number().int().min(1000).max(7 * 86_400_000).default(120_000).meta({ description: 'JetStream de-duplication window (the hub\'s primary key catches the rest)' }),
      maxAgeDays: z.number().int().min(1).max(3650).default(7).meta({ description: 'events kept in the stream for a hub that was down' }),
    })
    .prefault({}),
  passages: z
    .strictObject({
      heartbeatMs: z.number().int().min(100).max(60_000).default(1000).meta({ description: 'the hub marks the passages bucket alive this often while it processes events (at most once per consumer turn, which waits up to 1 s for events)' }),
      staleAfterMs: z.number().int().min(500).max(600_000).default(5000).meta({ description: 'an edge counts its area state stale when the hub has not marked it alive for this long (or NATS is down)' }),
      ttlHours: z.number().int().min(1).max(8760).default(24).meta({ description: 'passages kept in the bucket: at least the longest antiPassback.windowMs of any area gate' }),
    })
    .refine((p) => p.staleAfterMs > p.heartbeatMs, { message: 'staleAfterMs must be longer than heartbeatMs', path: ['staleAfterMs'], params: { hint: 'e.g. heartbeatMs: 1000, staleAfterMs: 5000 (a few heartbeats)' } satisfies IssueParams })
    .prefault({})
    .meta({ description: 'anti-passback areas across boxes (gates with antiPassback.area)' }),
  edgeEnrollment: z.enum(['refuse']).default('refuse').meta({ description: 'enrollment on an edge in fleet mode is refused: enroll at the hub (`facegate enroll --hub`)' }),
  hub: hubSchema.optional()
    .meta({ description: 'only for `facegate hub`' }),
});

export type FleetConfig = z.output<typeof fleetSchema>;
/** A fleet section as `facegate hub` runs it: its `hub` settings always there (defaults filled). */
export type HubFleetConfig = FleetConfig & { readonly hub: z.output<typeof hubSchema> };
export type NatsConnectionConfig = z.output<typeof natsConnectionSchema>;
export type PostgresConfig = z.output<typeof postgresSchema>;

/** The fleet section's file paths against the config's folder (only the keys that are set). */
export function resolveFleetPaths(f: FleetConfig, r: (p: string) => string): FleetConfig {
  const files = <T extends object>(o: T, keys: readonly (keyof T)[]): T => {
    const out = { ...o };
    for (const k of keys) if (typeof out[k] === 'string') (out as Record<keyof T, unknown>)[k] = r(out[k] as string);
    return out;
  };
  const nats = files({ ...f.nats, ...(f.nats.tls ? { tls: files(f.nats.tls, ['ca', 'cert', 'key']) } : {}) }, ['passwordFile', 'tokenFile', 'credsFile', 'nkeySeedFile']);
  const hub = f.hub && { ...f.hub, postgres: files({ ...f.hub.postgres, ...(f.hub.postgres.ssl ? { ssl: files(f.hub.postgres.ssl, ['ca']) } : {}) }, ['passwordFile']) };
  return { ...f, nats, ...(hub ? { hub } : {}) };
}

/**
 * One NATS connection for a fleet role (edge forwarder + gallery follower, or the hub), kept up
 * in the background: facegate never waits for NATS to start. The first connection is retried
 * with the cameras' backoff (250 ms doubling to 30 s, jittered) forever; once up, the client
 * reconnects by itself. After every (re)connection `onConnect` runs (ensure the stream, the
 * bucket, the consumer) before the connection counts as ready; ready / lost listeners let the
 * sink runner and the watchers resume at once.
 *
 * Errors are classified for a person: wrong credentials (FLEET_NATS_AUTH), unreachable
 * (FLEET_NATS_UNAVAILABLE), JetStream missing (FLEET_JETSTREAM). One warning when an outage
 * begins or its reason changes, one info line when it ends. Credentials go to the client only.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import type { NatsConnectionConfig } from '../config/fleet.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../lib/backoff.ts';
import { Listeners } from '../lib/listeners.ts';
import { retry, retryUntil } from '../lib/retry.ts';
import type { Logger } from '../log.ts';
import { redactUrl } from '../redact.ts';
import { FleetError, messageOf } from './errors.ts';

function readSecretFile(path: string, what: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    const first = text.split(/\r?\n/)[0]?.trim() ?? '';
    if (!first) throw new Error('the file is empty');
    return first;
  } catch (e) {
    throw new FleetError('FLEET_CONFIG_INVALID', `cannot read the ${what} file ${path}: ${messageOf(e)}`, { context: { path }, hint: `check fleet ${what} path and that the service user can read it`, cause: e });
  }
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FleetError('FLEET_CONFIG_INVALID', `cannot read the ${what} file ${path}: ${messageOf(e)}`, { context: { path }, hint: `check the ${what} path and that the service user can read it`, cause: e });
  }
}

/** The armoured blocks of a .creds file (the client library's own pattern): the user JWT, then the seed. */
const CREDS_BLOCK = /\s*(?:(?:[-]{3,}[^\n]*[-]{3,}\n)(.+)(?:\n\s*[-]{3,}[^\n]*[-]{3,}\n))/gi;

/**
 * Read and check a .creds file: a user JWT block and a user NKey seed block (SU...). Errors name
 * the file and what is wrong, never its content.
 */
export function readCredsFile(path: string): Buffer {
  const bytes = readFile(path, 'nats.credsFile');
  const blocks = [...bytes.toString('utf8').matchAll(CREDS_BLOCK)].map((m) => (m[1] ?? '').trim());
  const [jwt, seed] = blocks;
  const problem =
    jwt === undefined || seed === undefined
      ? 'it does not hold the two armoured blocks of a .creds file (the user JWT, then the NKey seed)'
      : jwt.split('.').length !== 3
        ? 'its first block is not a JWT'
        : !seed.startsWith('SU')
          ? 'its second block is not a user NKey seed (SU...)'
          : undefined;
  if (problem) throw new FleetError('FLEET_CONFIG_INVALID', `nats.credsFile ${path}: ${problem}`, { context: { path }, hint: 'use the .creds file issued for this user (e.g. `nsc generate creds -a ACCOUNT -n USER`)' });
  return bytes;
}

/** The claims of the user JWT in a .creds file (no secret: the seed is not read), or undefined. */
export function credsClaims(path: string): { readonly name?: string; readonly sub?: string; readonly iss?: string; readonly exp?: number } | undefined {
  try {
    const jwt = [...readFileSync(path, 'utf8').matchAll(CREDS_BLOCK)][0]?.[1]?.trim() ?? '';
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    return { name: str(claims.name), sub: str(claims.sub), iss: str(claims.iss), exp: typeof claims.exp === 'number' ? claims.exp : undefined };
  } catch {
    return undefined;
  }
}

/** Client options from the config: secrets read from their files now (errors name the file). */
export function natsConnectOptions(cfg: NatsConnectionConfig, name: string): ConnectionOptions {
  const o: ConnectionOptions = { servers: [...cfg.servers], name, timeout: cfg.connectTimeoutMs };
  if (cfg.user !== undefined) {
    o.user = cfg.user;
    o.pass = cfg.passwordFile !== undefined ? readSecretFile(cfg.passwordFile, 'nats.passwordFile') : cfg.password;
  }
  if (cfg.token !== undefined || cfg.tokenFile !== undefined) o.token = cfg.tokenFile !== undefined ? readSecretFile(cfg.tokenFile, 'nats.tokenFile') : cfg.token;
  if (cfg.credsFile !== undefined) o.authenticator = credsAuthenticator(new Uint8Array(readCredsFile(cfg.credsFile)));
  if (cfg.nkeySeedFile !== undefined) o.authenticator = nkeyAuthenticator(new TextEncoder().encode(readSecretFile(cfg.nkeySeedFile, 'nats.nkeySeedFile')));
  if (cfg.tls) {
    o.tls = {
      ...(cfg.tls.ca ? { ca: readFile(cfg.tls.ca, 'nats.tls.ca').toString('utf8') } : {}),
      ...(cfg.tls.cert ? { cert: readFile(cfg.tls.cert, 'nats.tls.cert').toString('utf8') } : {}),
      ...(cfg.tls.key ? { key: readFile(cfg.tls.key, 'nats.tls.key').toString('utf8') } : {}),
    };
  }
  return o;
}

/**
 * A NATS failure as a FleetError with a fix. `credsFile`: the .creds file in use, so a refusal can
 * say whether its user JWT has expired (read from the JWT's claims; the seed is never read here).
 */
export function classifyNatsError(e: unknown, servers: readonly string[], credsFile?: string): FleetError {
  if (e instanceof FleetError) return e;
  const msg = messageOf(e);
  const shown = servers.map(redactUrl).join(', ');
  if (/authori[sz]ation|authentication|auth/i.test(msg) || (e as { name?: string })?.name === 'AuthorizationError') {
    if (credsFile !== undefined) {
      const claims = credsClaims(credsFile);
      const who = claims?.name ? `user '${claims.name}'` : 'the user';
      if (claims?.exp !== undefined && claims.exp * 1000 <= Date.now()) {
        return new FleetError('FLEET_NATS_AUTH', `NATS at ${shown} refused the credentials: the JWT of ${who} in nats.credsFile ${credsFile} expired at ${new Date(claims.exp * 1000).toISOString()} (${msg})`, { context: { servers: shown, path: credsFile }, hint: 'issue new credentials for this user (e.g. `nsc generate creds`) and replace the file; it is read again at each connection attempt', cause: e });
      }
      return new FleetError('FLEET_NATS_AUTH', `NATS at ${shown} refused the JWT of ${who} in nats.credsFile ${credsFile} (${msg})`, { context: { servers: shown, path: credsFile }, hint: "check that the user's account is known to the server's resolver (operator mode), that the JWT was issued by that account and that the file is this user's", cause: e });
    }
    return new FleetError('FLEET_NATS_AUTH', `NATS at ${shown} refused the credentials (${msg})`, { context: { servers: shown }, hint: 'check fleet.nats user + passwordFile / tokenFile / credsFile against the server\'s authorization block', cause: e });
  }
  if (/certificate|self[- ]signed|\btls\b|\bssl\b/i.test(msg)) {
    return new FleetError('FLEET_NATS_UNAVAILABLE', `TLS with NATS at ${shown} failed (${msg})`, { context: { servers: shown }, hint: 'set fleet.nats.tls.ca to the CA that signed the server\'s certificate (and tls.cert + tls.key when the server wants a client certificate)', cause: e });
  }
  if (/jetstream/i.test(msg) || /503/.test(msg)) {
    return new FleetError('FLEET_JETSTREAM', `JetStream is not available at ${shown} (${msg})`, { context: { servers: shown }, hint: 'start nats-server with JetStream (-js or a jetstream {} block) and give this user access to $JS.API.>', cause: e });
  }
  return new FleetError('FLEET_NATS_UNAVAILABLE', `cannot reach NATS at ${shown} (${msg})`, { context: { servers: shown }, hint: 'check fleet.nats.servers, the network and that nats-server runs; facegate keeps retrying', cause: e });
}

export interface NatsLinkStatus {
  readonly connected: boolean;
  readonly reconnects: number;
  readonly lastError: string | undefined;
  readonly lastErrorCode: string | undefined;
}

export interface NatsLink {
  /** The live connection once ready (onConnect done); undefined before and while down. */
  current(): NatsConnection | undefined;
  status(): NatsLinkStatus;
  /** Called at each (re)connection once onConnect succeeded; returns the remover. */
  onReady(listener: (nc: NatsConnection) => void): () => void;
  /** Called when a ready connection is lost; returns the remover. */
  onLost(listener: () => void): () => void;
  /** Resolves at the first ready connection (or rejects after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<NatsConnection>;
  close(): Promise<void>;
}

export interface NatsLinkOptions {
  readonly config: NatsConnectionConfig;
  /** The client name the server shows (e.g. facegate-edge-door-1). */
  readonly name: string;
  readonly logger: Logger;
  /** Run after each (re)connection before it counts as ready (ensure streams, buckets). */
  readonly onConnect?: (nc: NatsConnection) => Promise<void>;
  readonly backoff?: BackoffOptions;
  /**
   * Reply and delivery subjects under this prefix instead of `_INBOX` (edges: `_INBOX_<node>`, see
   * edgeInboxPrefix), so an edge's NATS user may subscribe to its own inboxes only: with
   * `_INBOX.>` it could read every reply and every consumer delivery of the fleet, the hub's
   * included.
   */
  readonly inboxPrefix?: string;
}

export function startNatsLink(opts: NatsLinkOptions): NatsLink {
  const log = opts.logger;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const servers = opts.config.servers;
  const shown = servers.map(redactUrl);
  let nc: NatsConnection | undefined;
  let ready = false;
  let closed = false;
  let reconnects = 0;
  let everReady = false;
  let lastError: FleetError | undefined;
  let outageLogged: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const readyListeners = new Listeners<[NatsConnection]>((err) => log.error({ err }, 'fleet: a NATS ready listener threw'));
  const lostListeners = new Listeners((err) => log.error({ err }, 'fleet: a NATS lost listener threw'));

  const fail = (e: unknown): void => {
    const err = classifyNatsError(e, servers, opts.config.credsFile);
    lastError = err;
    if (outageLogged !== err.message) {
      outageLogged = err.message;
      log.warn({ servers: shown, code: err.code, detail: err.describe() }, 'fleet: NATS not available; retrying');
    }
  };

  const becomeReady = async (c: NatsConnection): Promise<boolean> => {
    try {
      await opts.onConnect?.(c);
    } catch (e) {
      fail(e);
      return false;
    }
    if (closed || c.isClosed()) return false;
    ready = true;
    if (everReady) reconnects++;
    everReady = true;
    if (outageLogged !== undefined) log.info({ servers: shown }, 'fleet: NATS connection ready again');
    outageLogged = undefined;
    lastError = undefined;
    readyListeners.emit(c);
    return true;
  };

  const lose = (): void => {
    if (!ready) return;
    ready = false;
    lostListeners.emit();
  };

  const watch = async (c: NatsConnection): Promise<void> => {
    for await (const s of c.status()) {
      if (closed) return;
      if (s.type === 'disconnect') {
        lose();
        fail(new Error(`disconnected from ${redactUrl(s.server)}`));
      } else if (s.type === 'reconnect') {
        // The server may have lost its state (a new store): ensure again before resuming.
        await retryUntil(() => becomeReady(c), { backoff, stopped: () => closed || c.isClosed() });
      } else if (s.type === 'error') {
        fail(s.error);
      }
    }
  };

  const start = async (): Promise<void> => {
    timer = undefined;
    const first = await retry(() => connect({ ...natsConnectOptions(opts.config, opts.name), ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}), reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500, reconnectJitter: 250, ignoreAuthErrorAbort: true, waitOnFirstConnect: false }), {
      backoff,
      stopped: () => closed,
      onError: fail,
    });
    if (!first.ok) return;
    const c = first.value;
    if (closed) {
      await c.close().catch(() => undefined);
      return;
    }
    nc = c;
    void watch(c).catch((e: unknown) => fail(e));
    void c.closed().then((err) => {
      lose();
      if (nc === c) nc = undefined;
      if (closed) return;
      // The client gave up (it should not with -1 attempts): start over.
      if (err) fail(err);
      timer = setTimeout(() => void start(), backoffDelay(0, backoff, Math.random()));
      timer.unref();
    });
    await retryUntil(() => becomeReady(c), { backoff, stopped: () => closed || c.isClosed() || ready });
  };
  void start();

  return {
    current: () => (ready && nc && !nc.isClosed() ? nc : undefined),
    status: () => ({ connected: ready, reconnects, lastError: lastError?.describe(), lastErrorCode: lastError?.code }),
    onReady: (l) => readyListeners.add(l),
    onLost: (l) => lostListeners.add(l),
    ready: async (timeoutMs = 30_000) => {
      if (ready && nc) return nc;
      const next = await readyListeners.next(timeoutMs);
      if (next) return next[0];
      throw lastError ?? new FleetError('FLEET_NATS_UNAVAILABLE', `NATS at ${shown.join(', ')} not ready after ${timeoutMs} ms`);
    },
    close: async () => {
      closed = true;
      clearTimeout(timer);
      ready = false;
      const c = nc;
      nc = undefined;
      if (c && !c.isClosed()) {
        // Drain delivers what is buffered; with the server gone it would wait for a reconnect.
        const drained = await Promise.race([c.drain().then(() => true, () => false), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
        if (!drained) await c.close().catch(() => undefined);
      }
    },
  };
}

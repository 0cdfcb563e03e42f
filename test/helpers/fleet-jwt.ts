/**
 * NATS decentralised auth for tests, signed here: operator, account and user JWTs (nats JWT v2,
 * ed25519 NKeys) and the user's .creds file, for a nats-server in operator mode with a MEMORY
 * resolver (src/dev/local-servers.ts `operator`). No nsc, no network.
 *
 * A JWT is base64url(header) . base64url(claims) . base64url(ed25519 signature of the first two
 * parts by the issuer's seed); `jti` is the sha256 of the claims without it, `iss` the issuer's
 * public key, `sub` the subject's.
 */
import { createHash } from 'node:crypto';
import { nkeys } from '@nats-io/transport-node';

type KeyPair = ReturnType<typeof nkeys.createUser>;

const b64url = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');
const HEADER = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));

export interface JwtClaims {
  readonly name: string;
  readonly sub: string;
  /** Seconds since the epoch; absent = never expires. */
  readonly exp?: number;
  readonly nats: Readonly<Record<string, unknown>> & { readonly type: 'operator' | 'account' | 'user' };
}

/** Sign `claims` as `issuer` (operator for accounts and itself, account for users). */
export function signJwt(issuer: KeyPair, claims: JwtClaims): string {
  const body: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), ...claims, nats: { ...claims.nats, version: 2 } };
  const jti = createHash('sha256').update(JSON.stringify(body)).digest('base64url');
  const payload = b64url(JSON.stringify({ jti, ...body }));
  const sig = issuer.sign(new TextEncoder().encode(`${HEADER}.${payload}`));
  return `${HEADER}.${payload}.${b64url(sig)}`;
}

/** The standard armoured .creds format (what `nsc generate creds` writes). */
export function credsFile(userJwt: string, user: KeyPair): string {
  const seed = new TextDecoder().decode(user.getSeed());
  return [
    '-----BEGIN NATS USER JWT-----',
    userJwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
    '*************************************************************',
    '',
  ].join('\n');
}

/** Account limits: everything unlimited, JetStream on (mem/disk storage -1). */
const ACCOUNT_LIMITS = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };

export interface OperatorSetup {
  readonly operator: KeyPair;
  readonly account: KeyPair;
  readonly system: KeyPair;
  /** For NatsServer.start({ operator }). */
  readonly server: { readonly jwt: string; readonly systemAccount: string; readonly accounts: Readonly<Record<string, string>> };
  /** A user of the JetStream account: its JWT (issued by `issuer`, default the account) and .creds text. */
  user(name: string, opts?: UserOptions): { readonly jwt: string; readonly creds: string; readonly seed: string };
}

export interface UserOptions {
  /** exp = now + this (negative: already expired). */
  readonly expiresInS?: number;
  /** Default the JetStream account; another key = an account the server does not know. */
  readonly issuer?: KeyPair;
  /** Subjects the user may publish / subscribe to (the JWT's pub / sub allow lists); default all. */
  readonly allow?: { readonly pub: readonly string[]; readonly sub: readonly string[] };
}

export function operatorSetup(): OperatorSetup {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const account = nkeys.createAccount();
  const opJwt = signJwt(operator, { name: 'facegate-test-operator', sub: operator.getPublicKey(), nats: { type: 'operator', system_account: system.getPublicKey() } });
  const sysJwt = signJwt(operator, { name: 'SYS', sub: system.getPublicKey(), nats: { type: 'account', limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 } } });
  const accJwt = signJwt(operator, { name: 'FACEGATE', sub: account.getPublicKey(), nats: { type: 'account', limits: ACCOUNT_LIMITS, default_permissions: { pub: {}, sub: {} } } });
  return {
    operator,
    account,
    system,
    server: { jwt: opJwt, systemAccount: system.getPublicKey(), accounts: { [system.getPublicKey()]: sysJwt, [account.getPublicKey()]: accJwt } },
    user: (name, opts = {}) => {
      const u = nkeys.createUser();
      const jwt = signJwt(opts.issuer ?? account, {
        name,
        sub: u.getPublicKey(),
        ...(opts.expiresInS !== undefined ? { exp: Math.floor(Date.now() / 1000) + opts.expiresInS } : {}),
        nats: { type: 'user', pub: opts.allow ? { allow: [...opts.allow.pub] } : {}, sub: opts.allow ? { allow: [...opts.allow.sub] } : {}, subs: -1, data: -1, payload: -1 },
      });
      return { jwt, creds: credsFile(jwt, u), seed: new TextDecoder().decode(u.getSeed()) };
    },
  };
}

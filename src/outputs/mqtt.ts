/**
 * The MQTT sink: events, camera and gate state, and Home Assistant discovery on one broker
 * (npm `mqtt` v5). The thin I/O wrapper around the pure topics.ts / ha-discovery.ts.
 *
 * Outages: facegate never waits for the broker. The client reconnects with backoff (the delay
 * grows from 250 ms to 30 s); one warning is logged when an outage begins (with the broker's
 * reason: refused, not authorised...) and one line when it ends. While disconnected deliver()
 * refuses at once, so the runner keeps the cursor where it is and the backlog follows on
 * reconnect. QoS >= 1 deliveries resolve on the broker's acknowledgement.
 *
 * Secrets: the password (or password file) goes to the client only; logs and health carry the
 * URL redacted and error messages through redactText.
 *
 * MQTT 5: a broker that refuses a publish (its ACL, a `$` topic) says so in the PUBACK, so the
 * delivery fails and the backlog waits, instead of the 3.1.1 silence (acknowledged and dropped).
 * For what even MQTT 5 does not reveal (a broker that accepts and drops), every connect checks
 * that a test message on <prefix>/echo/<clientId> comes back (echoCheck): if not, the sink stays
 * connected with a `warning` in its health.
 *
 * Commands: parsed at the entry (UTF-8 without NUL or lone surrogates), rate-limited per gate and
 * action (commandLimit), audited with the sender the message declares (see readGateCommand:
 * brokers do not identify publishers), and refusals logged once per window with their count.
 * A gate with a door also takes its operator mode on <prefix>/gate/<id>/door_mode/set (normal,
 * lockdown, unlock-all; Home Assistant's select): the same entry checks, its own rate-limit
 * bucket (action `mode`), audited as door.mode_changed with the same actor.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Config } from '../config/index.ts';
import type { Event } from '../events/index.ts';
import { backoffDelay } from '../lib/backoff.ts';
import { Listeners } from '../lib/listeners.ts';
import type { Logger } from '../log.ts';
import { redactText, redactUrl } from '../redact.ts';
import type { CursorStore } from './cursor.ts';
import { announcedAfter, discoveryPayload, discoveryTopic, doorModeSetFilter, haStatusTopic, type Announced, type DiscoveryInput } from './ha-discovery.ts';
import { isDoorModeTopic, readDoorModeCommand, type DoorModeCommandMode } from './door-command.ts';
import { CommandLimiter, RefusalWindows } from './command-limit.ts';
import { OutputsError } from './errors.ts';
import { DEFAULT_SINK_BACKOFF, type EventSink, type SinkStatus } from './sink.ts';
import {
  gateLockAfter,
  LOCKED,
  lockState,
  messagesFor,
  mqttTopics,
  nodeIdFromHostname,
  OFFLINE,
  ONLINE,
  readGateCommand,
  relockInMs,
  type GateLock,
  type LockState,
  type MqttMessage,
  type MqttTopics,
} from './topics.ts';

export type MqttOutputConfig = NonNullable<Config['events']['outputs']['mqtt']>;

export interface MqttCameraInfo {
  readonly id: string;
  readonly name: string;
  /** Known now (from the running camera); undefined = wait for its next event. */
  readonly status?: 'up' | 'down' | undefined;
}

export interface MqttGateInfo {
  readonly id: string;
  readonly name: string;
  /** Held open by hand now. */
  readonly heldOpen?: boolean | undefined;
  /** The gate has a door (gates[].door): its entities, and its mode command. */
  readonly door?: boolean | undefined;
}

export interface MqttSinkOptions {
  readonly config: MqttOutputConfig;
  readonly logger: Logger;
  /** Remembers the announced discovery components between runs. */
  readonly cursors: CursorStore;
  /** The configured cameras and gates (read at every (re)announce). */
  readonly cameras: () => readonly MqttCameraInfo[];
  readonly gates: () => readonly MqttGateInfo[];
  /** JPEG of a recognition's snapshot (the face crop); undefined when it is gone. */
  readonly snapshot?: ((snapshotId: string) => Promise<Buffer | undefined>) | undefined;
  /** A manual gate action, audited like one from the API (commands: true only). */
  readonly manual?: ((gateId: string, action: 'open' | 'close', by: string, reason: string) => Promise<unknown>) | undefined;
  /** An operator's door mode, audited like one from the API (commands: true only). */
  readonly doorMode?: ((gateId: string, mode: DoorModeCommandMode, by: string, reason: string) => void) | undefined;
  /** Default: os.hostname(). */
  readonly hostname?: string | undefined;
  readonly version?: string | undefined;
  /** A delivery not acknowledged within this fails (default 10 s); the runner retries it. */
  readonly ackTimeoutMs?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  /** Refused commands are logged once per this window, then counted (default 60 s). */
  readonly commandRefusalWindowMs?: number | undefined;
  readonly now?: () => number;
}

export interface MqttSink extends EventSink {
  readonly nodeId: string;
  readonly clientId: string;
  readonly topicPrefix: string;
  readonly topics: MqttTopics;
  /** Announce discovery and states again (after the cameras or gates changed). */
  refresh(): void;
}

/** Broker refusals that a person must fix (MQTT 3.1.1 CONNACK 4/5, MQTT 5 134/135). */
function refusalHint(code: unknown): string | undefined {
  if (code === 4 || code === 134) return 'the broker refused the user name or password: check username and password/passwordFile';
  // Mosquitto answers a wrong password with 5 (not authorised) too.
  if (code === 5 || code === 135) return 'the broker refused this client: check username and password/passwordFile, then the user\'s ACL and clientId';
  return undefined;
}

/** MQTT 5 reason codes that a person fixes in the broker's ACL or the topic settings. */
function publishRefusal(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'number' || code < 0x80) return undefined;
  return `${redactText(err instanceof Error ? err.message : String(err))} (reason code ${code})`;
}

const ANNOUNCED = 'announced:';
/** The sink-state key remembering what was announced (node ids carry no ':'; the prefix may). */
const announcedKey = (prefix: string, nodeId: string): string => `${ANNOUNCED}${prefix}:${nodeId}`;
function parseAnnouncedKey(key: string): { prefix: string; nodeId: string } | undefined {
  const rest = key.slice(ANNOUNCED.length);
  const at = rest.lastIndexOf(':');
  return at > 0 && at < rest.length - 1 ? { prefix: rest.slice(0, at), nodeId: rest.slice(at + 1) } : undefined;
}

/**
 * The broker login of events.outputs.mqtt: user, password (read from passwordFile when given) and
 * the TLS files. Shared with every other client of the same broker (the door inputs), so they log
 * in alike. Throws OutputsError (SINK_CONFIG_INVALID) for a file it cannot read.
 */
export function brokerCredentials(cfg: MqttOutputConfig): Pick<IClientOptions, 'username' | 'password' | 'ca' | 'cert' | 'key'> {
  let password = cfg.password;
  if (cfg.passwordFile !== undefined) {
    try {
      password = readFileSync(cfg.passwordFile, 'utf8').split(/\r?\n/)[0];
    } catch (e) {
      throw new OutputsError('SINK_CONFIG_INVALID', `cannot read events.outputs.mqtt.passwordFile ${cfg.passwordFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, {
        context: { path: cfg.passwordFile },
        hint: 'check the path (relative paths resolve against the working directory) and that the service user can read it',
        cause: e,
      });
    }
  }
  const file = (what: string, p: string | undefined): Buffer | undefined => {
    if (p === undefined) return undefined;
    try {
      return readFileSync(p);
    } catch (e) {
      throw new OutputsError('SINK_CONFIG_INVALID', `cannot read events.outputs.mqtt.tls.${what} ${p} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { context: { path: p }, hint: 'check the PEM file path and its permissions', cause: e });
    }
  };
  return { username: cfg.username, password, ca: file('ca', cfg.tls?.ca), cert: file('cert', cfg.tls?.cert), key: file('key', cfg.tls?.key) };
}

export function createMqttSink(opts: MqttSinkOptions): MqttSink {
  const cfg = opts.config;
  const log = opts.logger.child({ sink: 'mqtt' });
  const now = opts.now ?? Date.now;
  const nodeId = cfg.nodeId ?? nodeIdFromHostname(opts.hostname ?? hostname());
  const clientId = cfg.clientId ?? `facegate-${nodeId}`;
  const prefix = cfg.topicPrefix ?? `facegate/${nodeId}`;
  const topics = mqttTopics(prefix);
  const qos = cfg.qos as 0 | 1 | 2;
  const url = cfg.url ?? '';
  const shownUrl = redactUrl(url);
  const version = opts.version ?? '0.1.0';
  const ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
  const name = 'mqtt';

  let client: MqttClient | undefined;
  let connected = false;
  let everConnected = false;
  let reconnects = 0;
  let attempt = 0;
  let lastError: string | undefined;
  let outageSince: number | undefined;
  let outageLogged = false;
  let stopping = false;
  const readyListeners = new Listeners((err) => log.error({ err }, 'an MQTT ready listener threw'));
  const locks = new Map<string, GateLock>();
  const shownLock = new Map<string, LockState>();
  const relockTimers = new Map<string, NodeJS.Timeout>();
  const refusalWindowMs = opts.commandRefusalWindowMs ?? 60_000;
  const limiter = new CommandLimiter(cfg.commandLimit, refusalWindowMs);
  const invalidCommands = new RefusalWindows(refusalWindowMs, 1);
  let refusalTimer: NodeJS.Timeout | undefined;
  const echoTopic = `${prefix}/echo/${clientId}`;
  /** The echo check's outcome (undefined: passed, not run, or running). */
  let echoWarning: string | undefined;
  /** The broker refused a publish (MQTT 5 reason code): cleared by the next delivered page. */
  let refusedWarning: string | undefined;
  let echoWait: { readonly nonce: string; readonly done: () => void } | undefined;
  /** Bumped by every check and every lost connection: a check from an older run reports nothing. */
  let echoRuns = 0;

  const discoveryInput = (): DiscoveryInput => ({ nodeId, discoveryPrefix: cfg.discovery.prefix, topics, commands: cfg.commands, qos, version, cameras: opts.cameras(), gates: opts.gates() });

  const publish = async (m: MqttMessage): Promise<void> => {
    const c = client;
    if (!c || !connected) throw new OutputsError('SINK_UNAVAILABLE', `not connected to the MQTT broker ${shownUrl}`, { context: { url: shownUrl }, hint: lastError });
    try {
      await c.publishAsync(m.topic, m.payload, { qos, retain: m.retain });
    } catch (err) {
      const refusal = publishRefusal(err);
      if (refusal === undefined) throw err;
      const text = `the broker refused a publish to ${m.topic}: ${refusal}`;
      if (refusedWarning === undefined) log.warn({ topic: m.topic, error: refusal }, 'MQTT broker refused a publish: events wait in the log (check the broker ACL for this user and topicPrefix)');
      refusedWarning = text;
      throw new OutputsError('SINK_UNAVAILABLE', text, { context: { url: shownUrl, topic: m.topic }, hint: "allow this user to publish under the topic prefix in the broker's ACL", cause: err });
    }
  };

  /**
   * Subscribe to our own echo topic, publish a nonce there, expect it back. A broker that drops
   * what we publish (an ACL that MQTT 3.1.1-style brokers enforce silently, a bridge or plugin
   * that swallows it) is otherwise invisible: connected, lag 0, delivered counts rising.
   */
  const checkEcho = async (c: MqttClient): Promise<void> => {
    if (!cfg.echoCheck.enabled) return;
    const timeoutMs = cfg.echoCheck.timeoutMs;
    const run = ++echoRuns;
    const nonce = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const echoed = new Promise<boolean>((resolve) => {
      echoWait = { nonce, done: () => resolve(true) };
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    let problem: string | undefined;
    try {
      await c.subscribeAsync(echoTopic, { qos: 1 });
      await c.publishAsync(echoTopic, nonce, { qos: 1, retain: false });
      if (!(await echoed)) problem = `the broker did not echo a test message on ${echoTopic} within ${timeoutMs} ms`;
    } catch (err) {
      if (run !== echoRuns || c !== client) return; // the connection went: the next connect checks again
      problem = `the echo check on ${echoTopic} failed: ${redactText(err instanceof Error ? err.message : String(err))}`;
    } finally {
      clearTimeout(timer);
      if (echoWait?.nonce === nonce) echoWait = undefined;
    }
    if (run !== echoRuns || c !== client) return;
    c.unsubscribeAsync(echoTopic).catch(() => undefined);
    const hint = "what facegate publishes may be dropped: check the broker's ACL (publish and read under the topic prefix) and that topicPrefix is no broker-reserved topic; set echoCheck.enabled: false if the ACL deliberately denies reading it";
    const next = problem === undefined ? undefined : `${problem}: ${hint}`;
    if (next !== undefined && echoWarning === undefined) log.warn({ topic: echoTopic, timeoutMs }, `MQTT echo check failed: ${next}`);
    if (next === undefined && echoWarning !== undefined) log.info({ topic: echoTopic }, 'MQTT echo check passed again');
    echoWarning = next;
  };

  const flushRefusals = (): void => {
    refusalTimer = undefined;
    const t = now();
    for (const r of limiter.flush(t)) log.warn({ gate: r.gateId, action: r.action, refused: r.refused, windowMs: refusalWindowMs }, 'MQTT gate commands refused over the rate limit in the last window');
    for (const r of invalidCommands.flush(t)) log.warn({ refused: r.refused, windowMs: refusalWindowMs }, 'invalid MQTT gate commands refused in the last window');
    scheduleRefusalReport();
  };
  const scheduleRefusalReport = (): void => {
    if (refusalTimer !== undefined || stopping) return;
    const ends = [limiter.nextReportMs(), invalidCommands.nextEndMs()].filter((x): x is number => x !== undefined);
    if (ends.length === 0) return;
    refusalTimer = setTimeout(flushRefusals, Math.max(0, Math.min(...ends) - now()) + 5);
    refusalTimer.unref();
  };

  /** Publish a gate's lock state when it differs from what the broker holds; arm the relock. */
  const showLock = (gateId: string, force = false): MqttMessage | undefined => {
    const lock = locks.get(gateId) ?? LOCKED;
    const t = now();
    clearTimeout(relockTimers.get(gateId));
    const inMs = relockInMs(lock, t);
    if (inMs !== undefined) {
      const timer = setTimeout(() => {
        relockTimers.delete(gateId);
        const m = showLock(gateId);
        if (m && connected) publish(m).catch((err: unknown) => log.debug({ err, gate: gateId }, 'relock state not published (republished on reconnect)'));
      }, inMs + 5);
      timer.unref();
      relockTimers.set(gateId, timer);
    }
    const state = lockState(lock, t);
    if (!force && shownLock.get(gateId) === state) return undefined;
    shownLock.set(gateId, state);
    return { topic: topics.gateState(gateId), payload: state, retain: true };
  };

  const announce = async (): Promise<void> => {
    const input = discoveryInput();
    const key = announcedKey(cfg.discovery.prefix, nodeId);
    // A device announced under another node id or discovery prefix (the config changed, live or
    // while facegate was down) would stay in Home Assistant as a ghost: delete it on this broker.
    for (const old of opts.cursors.stateKeys(name, ANNOUNCED)) {
      if (old === key) continue;
      const was = parseAnnouncedKey(old);
      if (was) await publish({ topic: discoveryTopic(was.prefix, was.nodeId), payload: '', retain: true });
      opts.cursors.deleteState(name, old);
      log.info({ discoveryPrefix: was?.prefix, nodeId: was?.nodeId }, 'removed the Home Assistant device announced under the previous node id / discovery prefix');
    }
    if (!cfg.discovery.enabled && opts.cursors.getState(name, key) !== undefined) {
      // Discovery turned off after it was on: an empty retained config deletes the device in HA.
      await publish({ topic: discoveryTopic(cfg.discovery.prefix, nodeId), payload: '', retain: true });
      opts.cursors.deleteState(name, key);
    }
    if (cfg.discovery.enabled) {
      let previously: Announced = {};
      try {
        previously = JSON.parse(opts.cursors.getState(name, key) ?? '{}') as Announced;
      } catch {
        previously = {};
      }
      await publish({ topic: discoveryTopic(cfg.discovery.prefix, nodeId), payload: JSON.stringify(discoveryPayload(input, previously)), retain: true });
      opts.cursors.setState(name, key, JSON.stringify(announcedAfter(input)));
    }
    // States the broker may hold stale from before a restart or an outage: say what is true now.
    const msgs: MqttMessage[] = [];
    for (const g of opts.gates()) {
      if (g.heldOpen) locks.set(g.id, { unlockedUntilMs: Infinity });
      else if (locks.get(g.id)?.unlockedUntilMs === Infinity) locks.set(g.id, LOCKED);
      const m = showLock(g.id, true);
      if (m) msgs.push(m);
    }
    for (const c of opts.cameras()) if (c.status) msgs.push({ topic: topics.cameraStatus(c.id), payload: c.status, retain: true });
    await Promise.all(msgs.map(publish));
  };

  const onConnected = async (): Promise<void> => {
    const c = client;
    if (!c) return;
    await c.publishAsync(topics.available, ONLINE, { qos, retain: true });
    const subs: string[] = [];
    if (cfg.discovery.enabled) subs.push(haStatusTopic(cfg.discovery.prefix));
    if (cfg.commands) subs.push(topics.gateSetFilter, doorModeSetFilter(topics));
    if (subs.length) await c.subscribeAsync(subs, { qos: 1 });
    connected = true;
    try {
      await announce();
    } finally {
      // Deliveries do not depend on discovery: wake the runner for the backlog either way.
      if (connected) readyListeners.emit();
      // In the background: deliveries never wait for the check.
      if (connected) checkEcho(c).catch((err: unknown) => log.debug({ err }, 'MQTT echo check interrupted (repeated on reconnect)'));
    }
  };

  const onDoorMode = (msg: Parameters<typeof readDoorModeCommand>[0], t: number): void => {
    const cmd = readDoorModeCommand(msg, prefix, opts.gates().flatMap((g) => (g.door ? [g.id] : [])));
    if (!cmd.ok) {
      if (invalidCommands.note('invalid', t).first) log.warn({ topic: msg.topic.slice(0, 256), reason: cmd.reason, windowMs: refusalWindowMs }, 'MQTT door mode command refused (further invalid commands in this window are counted, then logged once)');
      scheduleRefusalReport();
      return;
    }
    const { gateId, mode, by, sender, responseTopic } = cmd;
    const taken = limiter.take(gateId, 'mode', t);
    if (!taken.ok) {
      if (taken.firstInWindow) log.warn({ gate: gateId, action: 'mode', mode, by, retryInMs: taken.retryInMs, limit: cfg.commandLimit, windowMs: refusalWindowMs }, 'MQTT door mode command refused: over the rate limit (further refusals in this window are counted, then logged once)');
      scheduleRefusalReport();
      return;
    }
    log.info({ gate: gateId, mode, by, sender, responseTopic }, 'MQTT door mode command');
    try {
      opts.doorMode?.(gateId, mode, by, responseTopic === undefined ? 'MQTT command' : `MQTT command (response topic ${responseTopic.slice(0, 200)})`);
    } catch (err) {
      log.warn({ err, gate: gateId }, 'MQTT door mode command failed');
    }
  };

  const onCommand = (packet: IPublishPacket): void => {
    const topic = packet.topic;
    const t = now();
    // A retained command would open the door again at every reconnect: commands are never retained.
    if (packet.retain) {
      log.warn({ topic }, 'retained MQTT gate command ignored (commands must not be retained)');
      return;
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (isDoorModeTopic(topic)) {
      onDoorMode({ topic, payload, properties: packet.properties }, t);
      return;
    }
    const cmd = readGateCommand({ topic, payload, properties: packet.properties }, prefix, opts.gates().map((g) => g.id));
    if (!cmd.ok) {
      // A stream of garbage is one line per window (with the count after it), not one per message.
      if (invalidCommands.note('invalid', t).first) log.warn({ topic: topic.slice(0, 256), reason: cmd.reason, windowMs: refusalWindowMs }, 'MQTT gate command refused (further invalid commands in this window are counted, then logged once)');
      scheduleRefusalReport();
      return;
    }
    const { gateId, action, by, sender, responseTopic } = cmd;
    const taken = limiter.take(gateId, action, t);
    if (!taken.ok) {
      if (taken.firstInWindow) log.warn({ gate: gateId, action, by, retryInMs: taken.retryInMs, limit: cfg.commandLimit, windowMs: refusalWindowMs }, 'MQTT gate command refused: over the rate limit (further refusals in this window are counted, then logged once)');
      scheduleRefusalReport();
      return;
    }
    log.info({ gate: gateId, action, by, sender, responseTopic }, 'MQTT gate command');
    if (!opts.manual) return;
    opts.manual(gateId, action, by, responseTopic === undefined ? 'MQTT command' : `MQTT command (response topic ${responseTopic.slice(0, 200)})`).catch((err: unknown) => log.warn({ err, gate: gateId }, 'MQTT gate command failed'));
  };

  const clientOptions = (): IClientOptions => {
    return {
      clientId,
      // MQTT 5: refused publishes are reported (PUBACK reason codes), commands carry properties.
      protocolVersion: 5,
      ...brokerCredentials(cfg),
      clean: true,
      keepalive: 30,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      reconnectPeriod: backoffDelay(0, DEFAULT_SINK_BACKOFF, Math.random()),
      resubscribe: true,
      will: { topic: topics.available, payload: Buffer.from(OFFLINE), qos, retain: true },
    };
  };

  const start = async (): Promise<void> => {
    stopping = false;
    outageSince = now();
    let options: IClientOptions;
    try {
      options = clientOptions();
    } catch (e) {
      lastError = e instanceof OutputsError ? e.describe() : redactText(String(e));
      throw e;
    }
    const c = mqtt.connect(url, options);
    client = c;
    c.on('connect', () => {
      attempt = 0;
      c.options.reconnectPeriod = backoffDelay(0, DEFAULT_SINK_BACKOFF, Math.random());
      if (everConnected) reconnects++;
      const downMs = outageSince === undefined ? 0 : now() - outageSince;
      if (outageLogged) log.info({ url: shownUrl, downMs, reconnects }, 'MQTT broker reachable again: delivering the backlog');
      else log.info({ url: shownUrl, clientId, topicPrefix: prefix }, 'MQTT connected');
      everConnected = true;
      outageSince = undefined;
      outageLogged = false;
      lastError = undefined;
      onConnected().catch((err: unknown) => {
        const refusal = publishRefusal(err);
        // The first publish of a session is <prefix>/available: refused, nothing else can go either.
        lastError = refusal
          ? `the broker refused to publish ${topics.available}: ${refusal}: allow this user to publish under the topic prefix in the broker's ACL (a prefix starting with '$' is the broker's own)`
          : redactText(err instanceof Error ? err.message : String(err));
        log.debug({ err }, 'MQTT session setup interrupted (retried on reconnect)');
      });
    });
    c.on('error', (err: Error & { code?: unknown }) => {
      const hint = refusalHint(err.code);
      lastError = redactText(hint ? `${err.message}: ${hint}` : err.message);
    });
    c.on('close', () => {
      connected = false;
      echoRuns++;
      if (stopping) return;
      outageSince ??= now();
      // Backoff between attempts: mqtt.js reads reconnectPeriod when it schedules the next one.
      c.options.reconnectPeriod = backoffDelay(++attempt, DEFAULT_SINK_BACKOFF, Math.random());
      if (!outageLogged) {
        outageLogged = true;
        log.warn(
          { url: shownUrl, error: lastError, retry: 'with backoff up to 30 s' },
          everConnected ? 'MQTT broker connection lost: events wait in the log and are delivered after reconnect' : 'MQTT broker not reachable: facegate runs anyway and keeps trying',
        );
      }
    });
    c.on('message', (topic, payload, packet) => {
      if (topic === echoTopic) {
        if (echoWait !== undefined && payload.toString('utf8') === echoWait.nonce) echoWait.done();
        return;
      }
      if (cfg.discovery.enabled && topic === haStatusTopic(cfg.discovery.prefix)) {
        if (payload.toString('utf8').trim() === ONLINE && connected) announce().catch((err: unknown) => log.debug({ err }, 'discovery re-announce failed (retried on reconnect)'));
        return;
      }
      if (cfg.commands) onCommand(packet);
    });
  };

  const deliver = async (events: readonly Event[]): Promise<void> => {
    const msgs: MqttMessage[] = [];
    // Only the newest snapshot per camera of a page: each one replaces the retained image, so a
    // backlog of recognitions is not read from disk and sent image by image.
    const snapshots = new Map<string, string>();
    for (const e of events) {
      msgs.push(...messagesFor(e, topics, cfg.types));
      if (e.gateId && (e.type === 'gate.granted' || e.type === 'gate.opened')) {
        locks.set(e.gateId, gateLockAfter(locks.get(e.gateId) ?? LOCKED, e, cfg.unlockedMs));
        const m = showLock(e.gateId);
        if (m) msgs.push(m);
      }
      if ((e.type === 'face.recognized' || e.type === 'face.unknown') && e.data.snapshotId && e.cameraId) snapshots.set(e.cameraId, e.data.snapshotId);
    }
    if (opts.snapshot) {
      for (const [cameraId, id] of snapshots) {
        const jpeg = await opts.snapshot(id).catch(() => undefined);
        if (jpeg) msgs.push({ topic: topics.snapshot(cameraId), payload: jpeg, retain: true });
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OutputsError('SINK_TIMEOUT', `the MQTT broker did not acknowledge ${msgs.length} messages within ${ackTimeoutMs} ms`, { context: { url: shownUrl } })), ackTimeoutMs);
    });
    try {
      await Promise.race([Promise.all(msgs.map(publish)), timeout]);
      refusedWarning = undefined;
    } catch (e) {
      // The lock states of this page may not have arrived: the retry publishes them again.
      shownLock.clear();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  };

  const stop = async (): Promise<void> => {
    stopping = true;
    for (const t of relockTimers.values()) clearTimeout(t);
    relockTimers.clear();
    clearTimeout(refusalTimer);
    refusalTimer = undefined;
    const c = client;
    client = undefined;
    if (!c) return;
    // A clean goodbye: the broker sends no last will for it, so say offline ourselves.
    if (connected) {
      await Promise.race([c.publishAsync(topics.available, OFFLINE, { qos, retain: true }).catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    connected = false;
    await Promise.race([c.endAsync(!c.connected), new Promise((r) => setTimeout(r, 2000).unref())]);
    c.removeAllListeners();
  };

  return {
    name,
    nodeId,
    clientId,
    topicPrefix: prefix,
    topics,
    start,
    stop,
    accepts: () => true,
    deliver,
    status: (): SinkStatus => {
      const warning = connected ? (refusedWarning ?? echoWarning) : undefined;
      return { connected, reconnects, lastError, ...(warning !== undefined ? { warning } : {}) };
    },
    onReady: (l) => readyListeners.add(l),
    refresh: () => {
      if (connected) announce().catch((err: unknown) => log.debug({ err }, 'discovery refresh failed (retried on reconnect)'));
    },
  };
}

/**
 * The doors' input clients (docs/doors.md), the readings that src/app/doors.ts feeds to each
 * door's state machine:
 * - the contact and REX topics on the broker of events.outputs.mqtt: one client for all doors,
 *   logged in like the MQTT sink, subscribed at QoS 1 (a retained contact state is the first
 *   reading after a start); the same client carries the Home Assistant mirror and an MQTT
 *   credential output, so it is handed out to the wiring;
 * - GPIO inputs through the libgpiod v1 tools (src/doors/gpio.ts): one gpiomon child per line (the
 *   contact read first with gpioget), restarted with the shared backoff when it exits.
 *
 * A reading is taken at the wall clock when it arrives. A new broker or new topics reconnect the
 * client; a changed GPIO line restarts its monitor.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import mqtt, { type MqttClient } from 'mqtt';
import type { Config } from '../config/index.ts';
import { contactReading, edgeIsFor, gpiogetArgv, gpiomonArgv, gpioReading, isRexPress, parseGpioValue, parseGpiomonLine, type DoorInput, type GpioLine } from '../doors/index.ts';
import type { DoorConfig } from '../gates/config.ts';
import { backoffDelay, DEFAULT_BACKOFF } from '../lib/backoff.ts';
import type { Logger } from '../log.ts';
import { brokerCredentials, mqttTopics, nodeIdFromHostname, type MqttTopics } from '../outputs/index.ts';
import { redactText, redactUrl } from '../redact.ts';
import { DOOR_INPUT_HEALTH_PREFIX, type SinkHealthSample } from './health.ts';

/** What the doors part follows in the config: the gates with a door, and the broker of the MQTT sink. */
export interface DoorSlice {
  readonly doors: ReadonlyArray<{ readonly gateId: string; readonly door: DoorConfig }>;
  readonly mqtt: Config['events']['outputs']['mqtt'];
}

export interface DoorInputOptions {
  readonly log: Logger;
  readonly now: () => number;
  /** A reading for a gate's door (the wiring ignores a gate that has no door now). */
  readonly feed: (gateId: string, input: DoorInput) => void;
  /** True once the doors part is closing: nothing is restarted and a lost broker is not warned about. */
  readonly closed: () => boolean;
}

/** SIGTERM (gpioset --mode=signal and gpiomon exit on it and release the line), SIGKILL if it lingers. */
export function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    kill.unref();
    child.once('close', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface MqttDoorInputs {
  /** Reconnect for the slice: the previous client is ended, a new one started when a door and an enabled broker are there. */
  connect(slice: DoorSlice): Promise<void>;
  /** The current client (connected or not); undefined when there is none. */
  client(): MqttClient | undefined;
  /** The client with the MQTT sink's topics (same prefix), for the Home Assistant mirror. */
  mirror(): { readonly client: MqttClient; readonly topics: MqttTopics } | undefined;
  /** One sample per gate with an MQTT input, named `door-input.<gate>`, not connected while the client is down. */
  health(): SinkHealthSample[];
  /** End the client. */
  close(): Promise<void>;
}

/**
 * The MQTT input client. `config` is a door's current config (how its contact payloads read);
 * `onConnect` runs at every (re)connect, after the subscription is asked for.
 */
export function mqttDoorInputs(o: DoorInputOptions & { readonly config: (gateId: string) => DoorConfig | undefined; readonly onConnect: () => void }): MqttDoorInputs {
  const { log, now, feed } = o;
  let client: MqttClient | undefined;
  /** The MQTT sink's topics (same prefix), while the input client is connected. */
  let mirror: { client: MqttClient; topics: MqttTopics } | undefined;
  /** The input client's link: up once connected, down from its first close until it is back. */
  let link: { url: string; up: boolean; error: string | undefined } | undefined;
  /** topic -> gate and which input it is. */
  let routes = new Map<string, { gateId: string; input: 'contact' | 'rex' }>();

  const onMessage = (topic: string, payload: Buffer): void => {
    const route = routes.get(topic);
    if (!route) return;
    const config = o.config(route.gateId);
    if (!config) return;
    if (route.input === 'contact' && config.contact) {
      const open = contactReading(config.contact, payload);
      if (open === undefined) {
        log.warn({ gate: route.gateId, topic, payload: redactText(payload.toString('utf8').slice(0, 64)) }, 'door contact: a payload that is neither open nor closed (ignored)');
        return;
      }
      feed(route.gateId, { kind: 'contact', atMs: now(), open });
    } else if (route.input === 'rex' && config.rex && isRexPress(config.rex, payload)) {
      feed(route.gateId, { kind: 'rex', atMs: now() });
    }
  };

  const connect = async (slice: DoorSlice): Promise<void> => {
    const previous = client;
    client = undefined;
    mirror = undefined;
    link = undefined;
    if (previous) await previous.endAsync(true).catch(() => {});
    routes = new Map();
    for (const { gateId, door } of slice.doors) {
      if (door.contact?.mqtt !== undefined) routes.set(door.contact.mqtt, { gateId, input: 'contact' });
      if (door.rex?.mqtt !== undefined) routes.set(door.rex.mqtt, { gateId, input: 'rex' });
    }
    const cfg = slice.mqtt;
    if (slice.doors.length === 0 || !cfg?.enabled || cfg.url === undefined) return;
    const nodeId = cfg.nodeId ?? nodeIdFromHostname(hostname());
    const c = mqtt.connect(cfg.url, {
      clientId: `${cfg.clientId ?? `facegate-${nodeId}`}-doors`,
      protocolVersion: 5,
      ...brokerCredentials(cfg),
      clean: true,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: 1000,
      resubscribe: true,
    });
    client = c;
    // The MQTT sink's prefix rule, so the mirror lands where Home Assistant's entities look.
    mirror = { client: c, topics: mqttTopics(cfg.topicPrefix ?? `facegate/${nodeId}`) };
    const topics = [...routes.keys()];
    let down = false;
    const state = { url: redactUrl(cfg.url), up: false, error: undefined as string | undefined };
    link = state;
    c.on('connect', () => {
      if (down) log.info({ url: redactUrl(cfg.url ?? '') }, 'door inputs: broker reachable again');
      down = false;
      state.up = true;
      state.error = undefined;
      // QoS 1: a press or a contact change is not lost between broker and box.
      if (topics.length > 0) c.subscribeAsync(topics, { qos: 1 }).catch((err: unknown) => log.error({ err, topics }, 'door inputs: subscribing failed'));
      o.onConnect();
    });
    c.on('close', () => {
      if (!down && !o.closed()) log.warn({ url: redactUrl(cfg.url ?? '') }, 'door inputs: broker connection lost (contact and REX are not seen until it is back)');
      down = true;
      state.up = false;
    });
    c.on('error', (err) => {
      state.error = redactText(err.message).slice(0, 200);
      log.debug({ error: state.error }, 'door inputs: broker error');
    });
    c.on('message', (topic, payload) => onMessage(topic, payload));
  };

  return {
    connect,
    client: () => client,
    mirror: () => mirror,
    health: () => {
      const l = link;
      if (!l) return [];
      const gates = [...new Set([...routes.values()].map((r) => r.gateId))];
      const lastError = l.up ? undefined : `broker ${l.url} not reachable${l.error ? `: ${l.error}` : ''}; contact and REX are not seen`;
      return gates.map((gateId) => ({ name: `${DOOR_INPUT_HEALTH_PREFIX}${gateId}`, connected: l.up, lag: 0, lastError }));
    },
    close: async () => {
      const c = client;
      client = undefined;
      if (c) await c.endAsync(true).catch(() => {});
    },
  };
}

/** A GPIO input watched by gpiomon (one child per line), restarted with backoff when it exits. */
interface GpioWatcher {
  readonly key: string;
  readonly spec: string;
  child: ChildProcess | undefined;
  retry: NodeJS.Timeout | undefined;
  attempt: number;
  stopped: boolean;
}

export interface GpioDoorInputs {
  /** The watchers the slice asks for: new or changed lines started, others stopped. */
  apply(slice: DoorSlice): Promise<void>;
  /** Stop every monitor (each lets go of its line). */
  stop(): Promise<void>;
}

/** gpiomon per GPIO input (key gate/input), restarted with the shared backoff when it exits. */
export function gpioDoorInputs(o: DoorInputOptions): GpioDoorInputs {
  const { log, now, feed, closed } = o;
  const watchers = new Map<string, GpioWatcher>();

  const startWatcher = (gateId: string, input: 'contact' | 'rex', line: GpioLine): GpioWatcher => {
    const w: GpioWatcher = { key: `${gateId}/${input}`, spec: JSON.stringify(line), child: undefined, retry: undefined, attempt: 0, stopped: false };
    const restart = (why: string): void => {
      if (w.stopped || closed()) return;
      const wait = backoffDelay(w.attempt++, DEFAULT_BACKOFF, Math.random());
      log.warn({ gate: gateId, input, chip: line.chip, line: line.line, why, retryMs: wait }, 'door GPIO input: gpiomon stopped (restarting; the input is not seen meanwhile)');
      w.retry = setTimeout(run, wait);
      w.retry.unref();
    };
    const monitor = (): void => {
      if (w.stopped || closed()) return;
      const argv = gpiomonArgv(line);
      const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      w.child = child;
      const startedAt = Date.now();
      let stderr = '';
      let error: string | undefined;
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-300);
      });
      child.once('error', (err) => {
        error = redactText(err.message);
      });
      if (child.stdout) {
        createInterface({ input: child.stdout }).on('line', (text) => {
          const parsed = parseGpiomonLine(text);
          if (!parsed.ok) {
            log.warn({ gate: gateId, input, reason: parsed.reason }, 'door GPIO input: a gpiomon line that is not an event (ignored)');
            return;
          }
          if (!edgeIsFor(line, parsed.edge)) {
            log.warn({ gate: gateId, input, offset: parsed.edge.offset, line: line.line }, 'door GPIO input: an event for another line (ignored)');
            return;
          }
          w.attempt = 0;
          const reading = gpioReading(input, parsed.edge);
          if (reading) feed(gateId, reading.kind === 'contact' ? { kind: 'contact', atMs: now(), open: reading.open } : { kind: 'rex', atMs: now() });
        });
      }
      child.once('close', (code, signal) => {
        if (w.child === child) w.child = undefined;
        // A monitor that ran a while was healthy: its next restart starts from the first delay.
        if (Date.now() - startedAt > 60_000) w.attempt = 0;
        restart(error ?? `gpiomon exited with ${code ?? signal}${stderr.trim() ? `: ${redactText(stderr.trim())}` : ''}`);
      });
    };
    // The contact's state before monitoring (gpiomon reports changes only); gpioget has to run
    // before gpiomon takes the line. A change between the two is seen at the next edge.
    const run = (): void => {
      w.retry = undefined;
      if (w.stopped || closed()) return;
      if (input !== 'contact') return monitor();
      const argv = gpiogetArgv(line);
      execFile(argv[0], argv.slice(1), { timeout: 3000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        if (w.stopped || closed()) return;
        const v = err ? undefined : parseGpioValue(String(stdout));
        if (v === undefined) return restart(err ? `gpioget failed: ${redactText(String(stderr).trim() || err.message).slice(0, 200)}` : `gpioget printed ${JSON.stringify(String(stdout).slice(0, 40))}`);
        feed(gateId, { kind: 'contact', atMs: now(), open: v === 1 });
        monitor();
      });
    };
    run();
    return w;
  };

  const stopWatcher = async (w: GpioWatcher): Promise<void> => {
    w.stopped = true;
    clearTimeout(w.retry);
    await stopChild(w.child);
  };

  return {
    apply: async (slice) => {
      const wanted = new Map<string, { gateId: string; input: 'contact' | 'rex'; line: GpioLine }>();
      for (const { gateId, door } of slice.doors) {
        if (door.contact?.gpio) wanted.set(`${gateId}/contact`, { gateId, input: 'contact', line: door.contact.gpio });
        if (door.rex?.gpio) wanted.set(`${gateId}/rex`, { gateId, input: 'rex', line: door.rex.gpio });
      }
      for (const [key, w] of watchers) {
        const want = wanted.get(key);
        if (want && JSON.stringify(want.line) === w.spec) continue;
        watchers.delete(key);
        await stopWatcher(w);
      }
      for (const [key, want] of wanted) {
        if (!watchers.has(key)) watchers.set(key, startWatcher(want.gateId, want.input, want.line));
      }
    },
    stop: async () => {
      await Promise.allSettled([...watchers.values()].map((w) => stopWatcher(w)));
      watchers.clear();
    },
  };
}

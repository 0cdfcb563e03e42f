/**
 * The service's doors (docs/doors.md): for every gate with `door:`, the pure state machine
 * (src/doors) fed with
 * - the contact and REX readings of the input clients (src/app/door-inputs.ts: MQTT topics on the
 *   broker of events.outputs.mqtt, gpiomon children for GPIO lines) and of signed webhooks,
 * - the gate's decisions from the event bus (gate.granted releases; gate.opened is an operator's
 *   open / hold-open / close),
 * - ticks at the machine's next deadline (every second too when an unlockSchedule is set),
 * and its output published as door.* events and sent to the lock: the relay, or a GPIO line held
 * by one gpioset child at a time. A lock that does not take a command is gate.actuation_failed
 * (target relay: the lock output) and a door.lock_failed alarm. A grant's Wiegand frame can be
 * clocked out on GPIO D0 / D1 (best-effort timing: docs/doors.md).
 *
 * At start (and for a door a config change adds) the door's state is read back from its last
 * door.* events in the event log (src/doors/restore.ts): an opening still running with its alarms,
 * and the operator's mode, set again as an audited door.mode_changed.
 *
 * The MQTT input client also mirrors each door for Home Assistant (the entities of src/outputs/ha-discovery.ts):
 * retained contact, lock and mode under <prefix>/gate/<id>/door*, and alarms as HA events on
 * .../door_alarm. A mirror, not the record: the events reach the broker through the MQTT sink.
 *
 * Time is the wall clock when an input arrives, not the capture time of the frame behind a grant:
 * the door is a real-time thing. The door state follows config changes by gate id (a changed door
 * keeps its state); a new broker or new topics reconnect the input client.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { Config } from '../config/index.ts';
import { deepEqual } from '../config/index.ts';
import {
  credentialArgv,
  credentialFrame,
  credentialFromMetadata,
  credentialPayload,
  DoorError,
  checkGpiodVersion,
  GPIOD_INSTALL_HINT,
  gpioLockPlan,
  wiegandGpioSteps,
  historyComplete,
  INITIAL_DOOR_STATE,
  needsRenewal,
  nextDoorDeadline,
  restoreDoor,
  stepDoor,
  switchSet,
  switchSetFor,
  type DoorEvent,
  type DoorInput,
  type DoorPolicy,
  type DoorState,
  type GpiodVersion,
  type LockCommand,
  type LoggedDoorEvent,
  type OperatorDoorMode,
} from '../doors/index.ts';
import type { EventBus, EventLog, NewEvent } from '../events/index.ts';
import type { DoorConfig } from '../gates/config.ts';
import type { Followers } from '../lib/follow.ts';
import { sleep } from '../lib/time.ts';
import type { Lifetime } from '../lib/lifetime.ts';
import type { Logger } from '../log.ts';
import { gpioDoorInputs, mqttDoorInputs, stopChild, type DoorSlice } from './door-inputs.ts';
import type { SinkHealthSample } from './health.ts';
import { doorTopics, type DoorAlarmEventType } from '../outputs/index.ts';
import { redactText } from '../redact.ts';

/** A door event as a v1 event of its gate. */
export function eventFromDoor(gateId: string, e: DoorEvent, identityId?: string): NewEvent {
  const base = { gateId, timeMs: e.atMs };
  switch (e.type) {
    case 'door.released':
      return { ...base, type: e.type, ...(e.identityId ?? identityId ? { identityId: e.identityId ?? identityId } : {}), data: { by: e.by, untilMs: e.untilMs, ...(e.operator !== undefined ? { operator: e.operator } : {}) } };
    case 'door.locked':
      return { ...base, type: e.type, data: { releasedBy: e.releasedBy } };
    case 'door.opened':
      return { ...base, type: e.type, data: { authorised: e.authorised } };
    case 'door.closed':
      return { ...base, type: e.type, data: { openMs: e.openMs, cleared: [...e.cleared] } };
    case 'door.held_open':
      return { ...base, type: e.type, data: { openMs: e.openMs } };
    case 'door.forced_open':
      return { ...base, type: e.type, data: {} };
    case 'door.rex':
      return { ...base, type: e.type, data: { released: e.released } };
    case 'door.mode_changed':
      return { ...base, type: e.type, data: { mode: e.mode, previous: e.previous, source: e.source, ...(e.by !== undefined ? { by: e.by } : {}), ...(e.reason !== undefined ? { reason: e.reason } : {}) } };
  }
}

const HISTORY_PAGE = 1000;
/** Most door events read back for one gate at start: bounds the start on a busy door's long log. */
const HISTORY_MAX = 20_000;

/** A gate's door events newest first, read back until restoreDoor has what it needs (bounded). */
export function doorHistory(log: Pick<EventLog, 'query'>, gateId: string): LoggedDoorEvent[] {
  const out: LoggedDoorEvent[] = [];
  const seen = new Set<number>();
  let toMs: number | undefined;
  while (out.length < HISTORY_MAX) {
    const page = log.query({ gateId, types: ['door.*'], order: 'desc', limit: HISTORY_PAGE, ...(toMs !== undefined ? { toMs: toMs + 1 } : {}) });
    let added = 0;
    for (const e of page) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      out.push({ type: e.type, timeMs: e.timeMs, data: e.data as Record<string, unknown> });
      added++;
    }
    if (page.length < HISTORY_PAGE || added === 0 || historyComplete(out)) break;
    toMs = page[page.length - 1].timeMs;
  }
  return out;
}

/** The policy the machine runs on, from a parsed `gates[].door`. */
export function doorPolicy(door: DoorConfig): DoorPolicy {
  return { strikeMs: door.strikeMs, heldOpenMs: door.heldOpenMs, unlockSchedule: door.unlockSchedule };
}

export interface ServiceDoorsOptions {
  readonly bus: EventBus;
  readonly log: Logger;
  readonly now?: (() => number) | undefined;
  /** Where a grant's card credential is read from (identity metadata `credential`): the gallery. */
  readonly identities?: { getIdentity(id: string): { readonly metadata: Readonly<Record<string, unknown>> } | undefined } | undefined;
}

export interface ServiceDoors {
  /** The gates that have a door, in config order. */
  gateIds(): string[];
  /** The door state of a gate; undefined when the gate has no door. */
  state(gateId: string): DoorState | undefined;
  /**
   * The door inputs' broker link for system.health: one entry per gate with an MQTT input, named
   * `door-input.<gate>`, not connected (with the broker) while the input client is down.
   */
  health(): SinkHealthSample[];
  /** An operator's door mode (audited as door.mode_changed when the effective mode changes). */
  setMode(gateId: string, mode: OperatorDoorMode, by: string, reason: string): void;
  /** The secret of a gate's signed webhook input; undefined when that input is not a webhook. */
  webhookSecret(gateId: string, input: 'contact' | 'rex'): string | undefined;
  /** A verified webhook reading: the contact's state or a REX press, at the wall clock now. */
  webhookReading(gateId: string, reading: { readonly kind: 'contact'; readonly open: boolean } | { readonly kind: 'rex' }): void;
}

interface Door {
  readonly gateId: string;
  config: DoorConfig;
  policy: DoorPolicy;
  state: DoorState;
  timer: NodeJS.Timeout | undefined;
  renew: NodeJS.Timeout | undefined;
  /** Lock commands go to the relay one at a time, in order. */
  relayChain: Promise<void>;
  /** The GPIO lock line's holder (lock.gpio). */
  gpio: GpioOut;
  /** Wiegand frames on GPIO go out one at a time, never interleaved. */
  credentialChain: Promise<void>;
}

/** The libgpiod tools' version once found usable; a failed look is repeated (the tools may be installed meanwhile). */
let gpiodFound: GpiodVersion | undefined;

/**
 * The libgpiod v1 tools on this box (`gpiodetect --version`), checked once: missing tools or an
 * unsupported version throw DOOR_INPUT_UNSUPPORTED with the fix (`apt install gpiod`).
 */
export function gpiodTools(): GpiodVersion {
  if (gpiodFound) return gpiodFound;
  const r = spawnSync('gpiodetect', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (r.error) {
    const why = (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed (no gpiodetect on PATH)' : redactText(r.error.message);
    throw new DoorError('DOOR_INPUT_UNSUPPORTED', `the libgpiod tools are ${why}`, { hint: GPIOD_INSTALL_HINT, cause: r.error });
  }
  gpiodFound = checkGpiodVersion(`${r.stdout ?? ''}${r.stderr ?? ''}`);
  return gpiodFound;
}

/** Refuse what cannot run rather than run deaf: GPIO without usable tools, MQTT without a broker. */
function checkBuilt(slice: DoorSlice): void {
  const needTools = (gateId: string, what: string, otherwise: string, context: Record<string, unknown>): void => {
    try {
      gpiodTools();
    } catch (err) {
      const e = err instanceof DoorError ? err : new DoorError('DOOR_INPUT_UNSUPPORTED', String(err));
      throw new DoorError('DOOR_INPUT_UNSUPPORTED', `gate '${gateId}': ${what} from gpio cannot run: ${e.message}`, { context: { gate: gateId, ...context }, hint: `${e.hint ?? GPIOD_INSTALL_HINT}; or ${otherwise}`, cause: err });
    }
  };
  for (const { gateId, door } of slice.doors) {
    for (const [name, input] of [['contact', door.contact], ['rex', door.rex]] as const) {
      if (input?.gpio) needTools(gateId, `door.${name}`, `give door.${name} as \`mqtt: TOPIC\` (a sensor on the broker of events.outputs.mqtt) or \`webhook: { secret }\` (a signed POST to /v1/doors/${gateId}/${name})`, { input: name });
      if (input?.mqtt !== undefined && slice.mqtt?.enabled !== true) {
        throw new DoorError('DOOR_INPUT_UNSUPPORTED', `gate '${gateId}': door.${name} listens on MQTT, but events.outputs.mqtt is not enabled`, {
          context: { gate: gateId, input: name },
          hint: 'configure events.outputs.mqtt (url, enabled: true): door inputs use its broker',
        });
      }
    }
    if (door.credentialOutput?.gpio) needTools(gateId, 'door.credentialOutput', "give door.credentialOutput as `mqtt: TOPIC` (a Wiegand adapter on the broker of events.outputs.mqtt) or `command: { argv: [PROGRAM, '{bits}'] }`", { output: 'credentialOutput' });
    if (door.credentialOutput?.mqtt !== undefined && slice.mqtt?.enabled !== true) {
      throw new DoorError('DOOR_INPUT_UNSUPPORTED', `gate '${gateId}': door.credentialOutput publishes on MQTT, but events.outputs.mqtt is not enabled`, {
        context: { gate: gateId, output: 'credentialOutput' },
        hint: 'configure events.outputs.mqtt (url, enabled: true): the credential output uses its broker',
      });
    }
    if (door.lock?.gpio) needTools(gateId, 'door.lock', 'use lock.relay (a Shelly Gen2+ relay) or the gate actuation', { output: 'lock' });
  }
}

/** The GPIO lock line: one gpioset child at a time holds it; `gen` tells a superseded child's exit from a failure. */
interface GpioOut {
  child: ChildProcess | undefined;
  gen: number;
  chain: Promise<void>;
}

const doorSlice = (c: Config): DoorSlice => ({ doors: c.gates.flatMap((g) => (g.door ? [{ gateId: g.id, door: g.door }] : [])), mqtt: c.events.outputs.mqtt });

/**
 * Start the doors of `initial` and follow config changes. A door whose input or output is not
 * built, or whose MQTT input has no broker, fails the start (DoorError with the fix); after a
 * config change the same is reported by the followers and the doors before it keep running.
 */
export function startServiceDoors(initial: Config, o: ServiceDoorsOptions, follow: Followers<Config>, lifetime: Lifetime): ServiceDoors {
  checkBuilt(doorSlice(initial));
  const log = o.log.child({ part: 'doors' });
  const now = o.now ?? Date.now;
  const doors = new Map<string, Door>();
  let closed = false;
  const inputOptions = { log, now, feed, closed: () => closed };
  const mqttInputs = mqttDoorInputs({
    ...inputOptions,
    config: (gateId) => doors.get(gateId)?.config,
    // The mirror is retained state: a (re)connected broker gets every door as it is now.
    onConnect: () => {
      for (const door of doors.values()) mirrorState(door);
    },
  });
  const gpioInputs = gpioDoorInputs(inputOptions);

  const publish = (gateId: string, events: readonly DoorEvent[]): void => {
    for (const e of events) {
      try {
        o.bus.publish(eventFromDoor(gateId, e));
      } catch (err) {
        log.error({ err, gate: gateId, type: e.type }, 'a door event could not be logged');
      }
    }
  };

  const mirrorState = (door: Door): void => {
    const mirror = mqttInputs.mirror();
    if (!mirror?.client.connected) return;
    const t = doorTopics(mirror.topics, door.gateId);
    const put = (topic: string, payload: string): void => void mirror.client.publishAsync(topic, payload, { qos: 1, retain: true }).catch((err: unknown) => log.debug({ err, topic }, 'door mirror: publish failed'));
    if (door.state.contact !== 'unknown') put(t.contact, door.state.contact);
    put(t.lock, door.state.released ? 'UNLOCKED' : 'LOCKED');
    put(t.mode, door.state.mode);
    put(t.operatorMode, door.state.operatorMode);
  };

  const mirrorAlarm = (gateId: string, type: DoorAlarmEventType, extra: Record<string, unknown> = {}): void => {
    const mirror = mqttInputs.mirror();
    if (!mirror?.client.connected) return;
    const topic = doorTopics(mirror.topics, gateId).alarm;
    mirror.client.publishAsync(topic, JSON.stringify({ event_type: type, ...extra }), { qos: 1 }).catch((err: unknown) => log.debug({ err, topic }, 'door mirror: publish failed'));
  };

  const schedule = (door: Door): void => {
    clearTimeout(door.timer);
    door.timer = undefined;
    if (closed) return;
    const deadline = nextDoorDeadline(door.policy, door.state);
    const t = now();
    // A schedule's window edges are not deadlines of the state: look every second.
    const wait = Math.min(deadline === null ? Infinity : Math.max(0, deadline - t), door.policy.unlockSchedule ? 1000 : Infinity);
    if (wait === Infinity) return;
    door.timer = setTimeout(() => feed(door.gateId, { kind: 'tick', atMs: now() }), wait);
    door.timer.unref();
  };

  const relayFailed = (door: Door, command: LockCommand, err: unknown, durationMs: number): void => {
    const error = err instanceof DoorError ? err.message : redactText(String(err));
    log.error({ gate: door.gateId, action: command.action, error }, 'door lock failed: the door did not get the command');
    const action = command.action === 'lock' ? 'close' : command.forMs === null || command.forMs > door.policy.strikeMs ? 'hold-open' : 'open';
    const trigger = command.action === 'lock' ? 'door.locked' : 'door.released';
    const t = now();
    try {
      o.bus.publish({ type: 'gate.actuation_failed', gateId: door.gateId, timeMs: t, data: { action, trigger, outcomes: [{ target: door.config.lock?.gpio ? 'gpio' : 'relay', ok: false, attempts: 1, error, durationMs }] } });
      o.bus.publish({ type: 'door.lock_failed', gateId: door.gateId, timeMs: t, data: { action: command.action, error } });
      mirrorAlarm(door.gateId, 'lock_failed', { action: command.action });
    } catch (e) {
      log.error({ err: e, gate: door.gateId }, 'the relay failure could not be logged');
    }
  };

  const sendRelay = (door: Door, command: LockCommand): void => {
    const relay = door.config.lock?.relay;
    if (!relay) return;
    const remaining = command.action === 'release' ? (door.state.releasedUntil === null ? null : Math.max(0, door.state.releasedUntil - now())) : null;
    const params = switchSetFor(door.config.failMode, command, relay, remaining);
    clearTimeout(door.renew);
    door.renew = undefined;
    door.relayChain = door.relayChain.then(async () => {
      const started = performance.now();
      try {
        await switchSet(relay, params);
      } catch (err) {
        relayFailed(door, command, err, Math.round(performance.now() - started));
      }
    });
    // A release longer than one toggle_after is renewed at half of it, while it lasts.
    if (command.action === 'release' && needsRenewal(relay, remaining)) {
      door.renew = setTimeout(() => {
        if (!closed && door.state.released) sendRelay(door, { action: 'release', forMs: command.forMs });
      }, relay.toggleAfterMs / 2);
      door.renew.unref();
    }
  };

  /**
   * A lock command on the GPIO lock line: the holder before it is stopped (the line is free again)
   * and the plan's gpioset started; a timed release hands over to a held lock when it ends. Any
   * exit that was not asked for (a tool error, a holder that died) is a failed actuation and a
   * door.lock_failed, as for the relay (the schema's target stays `relay`: the lock output).
   */
  const sendGpio = (door: Door, command: LockCommand): void => {
    const line = door.config.lock?.gpio;
    if (!line) return;
    const out = door.gpio;
    const gen = ++out.gen;
    const remaining = command.action === 'release' ? (door.state.releasedUntil === null ? null : Math.max(0, door.state.releasedUntil - now())) : null;
    const plan = gpioLockPlan(door.config.failMode, command, line, remaining);
    // `doing` is what a failure reports: the hold after a strike is the re-lock, not the release.
    const run = (argv: string[], then: string[] | undefined, doing: LockCommand): void => {
      if (gen !== out.gen || closed) return;
      const started = performance.now();
      let stderr = '';
      let failed: string | undefined;
      const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
      out.child = child;
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderr = (stderr + d).slice(-300);
      });
      child.once('error', (err) => {
        failed = redactText(err.message);
      });
      child.once('close', (code, signal) => {
        if (out.child === child) out.child = undefined;
        if (gen !== out.gen || closed) return;
        if (failed === undefined && code === 0 && then) return run(then, undefined, { action: 'lock' });
        const why = failed ?? `exited with ${code ?? signal}${stderr.trim() ? `: ${redactText(stderr.trim())}` : ''}`;
        const err = new DoorError('DOOR_GPIO_FAILED', `GPIO lock ${line.chip} line ${line.line}: ${argv[0]} ${why}`, { context: { chip: line.chip, line: line.line } });
        relayFailed(door, doing, err, Math.round(performance.now() - started));
      });
    };
    const previous = out.child;
    out.chain = out.chain.then(async () => {
      // The v1 tools request the line: a second holder would get EBUSY, so the first goes first.
      await stopChild(previous);
      run(plan.argv, plan.then, command);
    });
  };

  const sendLock = (door: Door, command: LockCommand): void => {
    if (door.config.lock?.relay) sendRelay(door, command);
    else if (door.config.lock?.gpio) sendGpio(door, command);
  };

  const stopGpioLock = async (door: Door): Promise<void> => {
    door.gpio.gen++;
    const child = door.gpio.child;
    door.gpio.child = undefined;
    await door.gpio.chain;
    await stopChild(child);
  };

  function feed(gateId: string, input: DoorInput): void {
    const door = doors.get(gateId);
    if (!door || closed) return;
    const step = stepDoor(door.policy, door.state, input);
    door.state = step.state;
    publish(gateId, step.events);
    if (step.lock) sendLock(door, step.lock);
    if (step.events.length > 0) mirrorState(door);
    for (const e of step.events) {
      if (e.type === 'door.forced_open') mirrorAlarm(gateId, 'forced_open');
      else if (e.type === 'door.held_open') mirrorAlarm(gateId, 'held_open', { openMs: e.openMs });
    }
    schedule(door);
  }

  const apply = async (slice: DoorSlice): Promise<void> => {
    checkBuilt(slice);
    const wanted = new Set(slice.doors.map((d) => d.gateId));
    for (const [id, door] of doors) {
      if (wanted.has(id)) continue;
      clearTimeout(door.timer);
      clearTimeout(door.renew);
      doors.delete(id);
      await stopGpioLock(door);
    }
    for (const { gateId, door: config } of slice.doors) {
      const door = doors.get(gateId);
      if (door) {
        const lineChanged = !deepEqual(door.config.lock?.gpio, config.lock?.gpio) || door.config.failMode !== config.failMode;
        door.config = config;
        door.policy = doorPolicy(config);
        if (lineChanged) {
          // Another line (or polarity): the old one is let go, the new one set as the door is now.
          await stopGpioLock(door);
          if (config.lock?.gpio) sendGpio(door, door.state.released ? { action: 'release', forMs: null } : { action: 'lock' });
        }
      } else {
        // Back from the record: an opening still running with its alarms, and the operator's mode,
        // set again as an audited input so the lock output follows it.
        let restored: ReturnType<typeof restoreDoor> = { state: INITIAL_DOOR_STATE };
        try {
          restored = restoreDoor(doorHistory(o.bus.log, gateId), now(), config.strikeMs);
        } catch (err) {
          log.error({ err, gate: gateId }, 'the door state could not be read back from the event log (starting locked, mode normal)');
        }
        const created: Door = { gateId, config, policy: doorPolicy(config), state: restored.state, timer: undefined, renew: undefined, relayChain: Promise.resolve(), gpio: { child: undefined, gen: 0, chain: Promise.resolve() }, credentialChain: Promise.resolve() };
        doors.set(gateId, created);
        // A GPIO line's level at boot is whatever the board left: take it and hold it locked.
        if (config.lock?.gpio) sendGpio(created, { action: 'lock' });
        if (restored.mode) {
          log.info({ gate: gateId, mode: restored.mode.mode, by: restored.mode.by }, 'door mode restored after a restart');
          feed(gateId, { kind: 'mode', atMs: now(), ...restored.mode });
        }
        if (restored.state.alarms.length > 0) log.warn({ gate: gateId, alarms: restored.state.alarms }, 'door alarms still active after a restart');
      }
      // A tick at once: an unlock schedule already open at start takes effect now.
      feed(gateId, { kind: 'tick', atMs: now() });
    }
    await gpioInputs.apply(slice);
    await mqttInputs.connect(slice);
  };

  follow.follow(
    'doors',
    doorSlice,
    (slice) => apply(slice),
    { equal: deepEqual },
  );

  /**
   * A grant's card credential to the panel: the identity's metadata `credential` as a Wiegand
   * frame. Not in lockdown (the panel would open what facegate keeps shut). A missing credential
   * sends nothing; a malformed one, an unconnected broker or a failing command is logged, never
   * thrown: the grant itself stands.
   */
  const sendCredential = (gateId: string, identityId: string | undefined): void => {
    const door = doors.get(gateId);
    const out = door?.config.credentialOutput;
    if (!door || !out || identityId === undefined || door.state.mode === 'lockdown') return;
    let frame;
    try {
      const credential = credentialFromMetadata(o.identities?.getIdentity(identityId)?.metadata);
      if (!credential) {
        log.debug({ gate: gateId, identity: identityId }, 'credential output: the identity has no credential (nothing sent)');
        return;
      }
      frame = credentialFrame(credential);
    } catch (err) {
      log.error({ gate: gateId, identity: identityId, error: err instanceof Error ? err.message : String(err), hint: err instanceof DoorError ? err.hint : undefined }, 'credential output: the identity\'s credential is invalid (nothing sent)');
      return;
    }
    if (out.mqtt !== undefined) {
      const c = mqttInputs.client();
      if (!c) {
        log.error({ gate: gateId, topic: out.mqtt }, 'credential output: no broker client (nothing sent)');
        return;
      }
      // QoS 1, not retained: one frame per grant, never replayed to a later subscriber.
      c.publishAsync(out.mqtt, credentialPayload(gateId, frame, now()), { qos: 1 }).catch((err: unknown) => log.error({ gate: gateId, topic: out.mqtt, error: redactText(String(err)) }, 'credential output: publish failed'));
    } else if (out.gpio) {
      const gpio = out.gpio;
      const steps = wiegandGpioSteps(gpio, [...frame.bits].map((b) => (b === '1' ? 1 : 0)));
      // One frame at a time: two grants' pulses interleaved would be two invalid frames.
      door.credentialChain = door.credentialChain.then(async () => {
        for (const step of steps) {
          if (closed) return;
          const failed = await new Promise<string | undefined>((resolve) => {
            execFile(step.argv[0], step.argv.slice(1), { timeout: 2000, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => resolve(err ? redactText(String(stderr).trim() || err.message).slice(0, 200) : undefined));
          });
          if (failed !== undefined) {
            log.error({ gate: gateId, chip: gpio.chip, d0: gpio.d0, d1: gpio.d1, error: failed }, 'credential output: gpioset failed (the frame was not sent whole)');
            return;
          }
          if (step.waitMs > 0) await sleep(step.waitMs);
        }
      });
    } else if (out.command) {
      const argv = credentialArgv(out.command.argv, frame);
      execFile(argv[0], argv.slice(1), { timeout: out.command.timeoutMs, killSignal: 'SIGKILL' }, (err) => {
        if (err) log.error({ gate: gateId, program: argv[0], error: redactText(err.message).slice(0, 200) }, 'credential output: the command failed');
      });
    }
  };

  const decisions = o.bus.events$.subscribe((e) => {
    if (e.gateId === undefined || !doors.has(e.gateId)) return;
    if (e.type === 'gate.granted') {
      feed(e.gateId, { kind: 'grant', atMs: now(), identityId: e.identityId });
      sendCredential(e.gateId, e.identityId);
    }
    else if (e.type === 'gate.opened') feed(e.gateId, { kind: 'manual', atMs: now(), action: e.data.action, durationMs: e.data.durationMs, by: e.data.by });
  });

  lifetime.add('doors', async () => {
    closed = true;
    decisions.unsubscribe();
    for (const door of doors.values()) {
      clearTimeout(door.timer);
      clearTimeout(door.renew);
    }
    await mqttInputs.close();
    // Commands already on their way finish (each has its own timeout).
    await Promise.allSettled([...doors.values()].map((d) => d.relayChain));
    // GPIO: the monitors stop, the lock holders let go of their lines (v1 leaves a released line
    // to the board's driver: the last level or a default, the kernel does not say which).
    await gpioInputs.stop();
    await Promise.allSettled([...doors.values()].map((d) => d.credentialChain));
    await Promise.allSettled([...doors.values()].map(async (d) => {
      await d.gpio.chain;
      await stopChild(d.gpio.child);
    }));
  });

  return {
    gateIds: () => [...doors.keys()],
    health: () => (closed ? [] : mqttInputs.health()),
    state: (gateId) => doors.get(gateId)?.state,
    setMode: (gateId, mode, by, reason) => feed(gateId, { kind: 'mode', atMs: now(), mode, by, reason }),
    webhookSecret: (gateId, input) => doors.get(gateId)?.config[input]?.webhook?.secret,
    webhookReading: (gateId, reading) => feed(gateId, reading.kind === 'contact' ? { kind: 'contact', atMs: now(), open: reading.open } : { kind: 'rex', atMs: now() }),
  };
}

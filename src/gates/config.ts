/**
 * Gate configuration: one zod schema (`gateSchema`) that holds every default, which the config
 * module embeds, and `parseGates` that adds the checks spanning several gates (unique ids,
 * anti-passback pairs). Objects are strict: a misspelt key in an access-control policy is an
 * error, not a silently ignored line.
 */
import { z } from 'zod';
import { GateError } from './errors.ts';
import { isValidTimeZone, parseHhmm, WEEKDAYS } from './schedule.ts';

const id = z.string().min(1).max(128);
const startTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM between 00:00 and 23:59');
const endTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'expected HH:MM between 00:00 and 24:00');

/** Minutes of HH:MM, NaN when malformed (refinements run even after a field's own check failed). */
const minutes = (s: string): number => {
  try {
    return parseHhmm(s);
  } catch {
    return Number.NaN;
  }
};

export const weeklyWindowSchema = z
  .strictObject({
    days: z.array(z.enum(WEEKDAYS)).min(1, 'a window needs at least one day'),
    start: startTime,
    end: endTime,
  })
  .refine((w) => minutes(w.start) !== minutes(w.end), {
    message: 'start equals end: an empty window (use 00:00-24:00 for a whole day)',
    path: ['end'],
  });

export const exceptionWindowSchema = z
  .strictObject({ start: startTime, end: endTime })
  .refine((w) => !(minutes(w.end) <= minutes(w.start)), {
    message: 'an exception window must end after it starts on the same date (add an exception for the next date to go past midnight)',
    path: ['end'],
  });

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
  .refine((d) => {
    const t = Date.parse(`${d}T00:00:00Z`);
    return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === d;
  }, 'not a calendar date');

export const scheduleExceptionSchema = z
  .strictObject({
    date: isoDate,
    closed: z.boolean().optional(),
    windows: z.array(exceptionWindowSchema).optional(),
  })
  .refine((e) => (e.closed === true) !== (e.windows !== undefined), {
    message: 'an exception needs exactly one of `closed: true` or `windows`',
  });

export const scheduleSchema = z
  .strictObject({
    timeZone: z.string().refine(isValidTimeZone, {
      message: "unknown time zone: use an IANA name such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
    }),
    weekly: z.array(weeklyWindowSchema).default([]),
    exceptions: z.array(scheduleExceptionSchema).default([]),
  })
  .refine((s) => new Set(s.exceptions.map((e) => e.date)).size === s.exceptions.length, {
    message: 'two exceptions for the same date',
    path: ['exceptions'],
  });

export const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** HMAC-SHA256 key for X-Facegate-Signature. Never logged. */
  secret: z.string().min(16, 'the webhook secret must be at least 16 characters (e.g. `openssl rand -hex 32`)'),
  timeoutMs: z.number().int().positive().default(2000),
  /** Extra attempts after the first on network errors, timeouts, 408/429 and 5xx. */
  retries: z.number().int().min(0).max(10).default(2),
  /** Delay before retry k (1-based) is backoffMs * 2^(k-1), capped at 5 s. */
  backoffMs: z.number().int().min(0).default(250),
});

export const commandSchema = z.strictObject({
  /** Program and arguments, run without a shell (execFile). */
  argv: z.array(z.string().min(1)).min(1, 'argv needs at least the program'),
  timeoutMs: z.number().int().positive().default(5000),
});

export const actuationSchema = z
  .strictObject({ webhook: webhookSchema.optional(), command: commandSchema.optional() })
  .refine((a) => a.webhook !== undefined || a.command !== undefined, { message: 'actuation needs a webhook or a command' });

/** An anti-passback area: one NATS-safe-ish token a person reads in logs and events (hashed on the wire). */
export const AREA_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Anti-passback: a local entry/exit pair (`pairedGateId`, both gates on this box), or an `area`
 * whose gates may sit on any node of a fleet (and on this one): every gate naming the same area
 * shares the last passage per person, key = area + identity. Exactly one of the two.
 */
export const antiPassbackSchema = z
  .strictObject({
    pairedGateId: id.optional(),
    area: z
      .string()
      .regex(AREA_ID, { error: "expected an area name: letters, digits, '-', '_' and '.', starting with a letter or digit, at most 64 characters (e.g. 'hq-lobby')" })
      .optional(),
    direction: z.enum(['entry', 'exit']),
    windowMs: z.number().int().positive().default(12 * 3600 * 1000),
  })
  .superRefine((ap, ctx) => {
    if ((ap.pairedGateId === undefined) === (ap.area === undefined)) {
      const both = ap.pairedGateId !== undefined;
      ctx.addIssue({
        code: 'custom',
        path: both ? ['area'] : [],
        message: both ? 'give either `pairedGateId` (a local entry/exit pair) or `area` (shared across gates and nodes), not both' : 'anti-passback needs `pairedGateId` (a local entry/exit pair) or `area` (shared across gates and nodes)',
        params: { hint: both ? 'keep `area` for a passage shared with other gates or boxes, or keep `pairedGateId` for a pair on this box' : "add `area: hq-lobby` (the same name on every gate of the area, on any box) or `pairedGateId: <the other gate's id>`" },
      });
    }
  });

/** A hint for a person on a custom issue (the config module prints it as `fix:`). */
const hinted = (hint: string): { params: { hint: string } } => ({ params: { hint } });

/** One MQTT topic a door input listens on: no wildcards (one input is one sensor). */
const inputTopic = z
  .string()
  .min(1, 'the topic is empty')
  .max(512)
  .refine((t) => !/[#+\u0000]/.test(t), { message: "a door input listens on one topic: no '#' or '+' wildcards", ...hinted("give the sensor's own state topic, e.g. 'zigbee2mqtt/front_door_contact'") });

/** A Linux GPIO line through the character device (libgpiod): the chip and the line offset. */
const gpioLineSchema = z.strictObject({
  chip: z.string().regex(/^(gpiochip\d+|\/dev\/gpiochip\d+)$/, { error: "expected a GPIO chip such as 'gpiochip0' (see `gpiodetect`)" }),
  line: z.number().int().min(0).max(1023),
  /**
   * The pin is active low: an input reads 0 when the contact is open / the button is pressed; a
   * lock output is energised by a low level. The libgpiod tools get `--active-low`.
   */
  activeLow: z.boolean().default(false),
});

/**
 * A signed HTTP input: the sensor's bridge POSTs `{ "state": "open" | "closed", "sentAtMs": MS }`
 * (contact) or `{ "press": true, "sentAtMs": MS }` (REX) to /v1/doors/<gate id>/<contact|rex>,
 * signed like the gate webhook (X-Facegate-Signature: sha256=<HMAC of the raw body>); the signed
 * sentAtMs within 5 minutes of the box's clock, a replayed body refused (src/doors/webhook.ts).
 */
const webhookInputSchema = z.strictObject({
  secret: z.string().min(16, 'the input secret must be at least 16 characters (e.g. `openssl rand -hex 32`)'),
});

const ONE_SOURCE_HINT = 'give exactly one of `mqtt: TOPIC` (a sensor on the broker of events.outputs.mqtt), `gpio: { chip, line }` or `webhook: { secret }`';

function oneSource(what: string) {
  return (v: { mqtt?: unknown; gpio?: unknown; webhook?: unknown }, ctx: z.RefinementCtx): void => {
    const n = [v.mqtt, v.gpio, v.webhook].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: 'custom', path: [], message: n === 0 ? `the ${what} input needs a source` : `the ${what} input has ${n} sources`, ...hinted(ONE_SOURCE_HINT) });
  };
}

/**
 * The door contact. MQTT: the payload (or, with `field`, that key of a JSON payload, e.g.
 * zigbee2mqtt's `contact`) is compared with `open` and `closed`; anything else is ignored and
 * logged. Home Assistant binary sensors publish ON (open) / OFF (closed), the defaults.
 */
export const contactInputSchema = z
  .strictObject({
    mqtt: inputTopic.optional(),
    open: z.string().min(1).max(64).default('ON'),
    closed: z.string().min(1).max(64).default('OFF'),
    field: z.string().min(1).max(64).optional(),
    gpio: gpioLineSchema.optional(),
    webhook: webhookInputSchema.optional(),
  })
  .superRefine(oneSource('contact'))
  .refine((c) => c.open !== c.closed, { message: '`open` and `closed` are the same payload', path: ['closed'], ...hinted("use the sensor's two payloads, e.g. open: 'ON', closed: 'OFF' (zigbee2mqtt: field: contact, open: 'false', closed: 'true')") });

/** The request-to-exit button: a payload equal to `press` (or that key of a JSON payload) is one press. */
export const rexInputSchema = z
  .strictObject({
    mqtt: inputTopic.optional(),
    press: z.string().min(1).max(64).default('ON'),
    field: z.string().min(1).max(64).optional(),
    gpio: gpioLineSchema.optional(),
    webhook: webhookInputSchema.optional(),
  })
  .superRefine(oneSource('rex'));

/**
 * A relay that re-locks by itself: Shelly Gen2+ RPC `Switch.Set` with `toggle_after`, so a
 * release ends on the relay's own timer even when facegate or the network is gone.
 */
export const relayLockSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "expected the relay's http:// address, e.g. http://192.0.2.20" }),
  switchId: z.number().int().min(0).max(15).default(0),
  /**
   * The longest single release the relay is given (toggle_after). A longer release (a hold-open,
   * an unlocking mode) is renewed by facegate every half of this, so it still ends at most this
   * long after facegate stops.
   */
  toggleAfterMs: z.number().int().min(1000).max(24 * 3600_000).default(60_000),
  timeoutMs: z.number().int().min(100).max(30_000).default(2000),
});

export const lockOutputSchema = z
  .strictObject({ relay: relayLockSchema.optional(), gpio: gpioLineSchema.optional() })
  .refine((l) => (l.relay === undefined) !== (l.gpio === undefined), { message: 'the lock needs exactly one output', ...hinted('give `relay: { url: http://RELAY }` (a Shelly Gen2 relay) or `gpio: { chip: gpiochip0, line: N }`') });

/**
 * Where a grant hands the person's card credential (identity metadata `credential`, a Wiegand
 * frame) to an existing panel: exactly one of
 * - `mqtt: TOPIC` on the broker of events.outputs.mqtt: a JSON payload with the bit string and the
 *   hex value, for a Wiegand adapter that listens there;
 * - `command: { argv }`: a program run without a shell; `{bits}` / `{hex}` in an argument become
 *   the frame's;
 * - `gpio: { chip, d0, d1 }`: the two data lines clocked with the libgpiod v1 tools (best-effort
 *   timing: docs/doors.md; an adapter is preferred).
 */
const credentialOutputSchema = z
  .strictObject({
    mqtt: inputTopic.optional(),
    command: commandSchema
      .refine((c) => c.argv.some((a) => a.includes('{bits}') || a.includes('{hex}')), { message: 'the credential command never receives the frame', ...hinted("put '{bits}' (or '{hex}') in an argument, e.g. argv: [wiegand-send, --bits, '{bits}']") })
      .optional(),
    gpio: z
      .strictObject({
        chip: z.string().regex(/^(gpiochip\d+|\/dev\/gpiochip\d+)$/, { error: "expected a GPIO chip such as 'gpiochip0' (see `gpiodetect`)" }),
        d0: z.number().int().min(0).max(1023),
        d1: z.number().int().min(0).max(1023),
      })
      .refine((g) => g.d0 !== g.d1, { message: 'the Wiegand D0 and D1 lines are the same line', path: ['d1'], ...hinted('give D0 and D1 their own GPIO lines (see `gpioinfo`)') })
      .optional(),
  })
  .superRefine((v, ctx) => {
    const n = [v.mqtt, v.command, v.gpio].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: 'custom', path: [], message: n === 0 ? 'the credential output needs a target' : `the credential output has ${n} targets`, ...hinted('give exactly one of `mqtt: TOPIC` (a Wiegand adapter on the broker of events.outputs.mqtt), `command: { argv: [PROGRAM, ..., "{bits}"] }` or `gpio: { chip, d0, d1 }`') });
  });

/**
 * A door behind the gate (optional): its lock, contact and request-to-exit button. `failMode`
 * is what the lock does without power: `secure` (an electric strike: locked without power; the
 * relay is switched on to release) or `safe` (a maglock, fire-code doors: open without power;
 * the relay is switched off to release).
 */
export const doorSchema = z
  .strictObject({
    strikeMs: z.number().int().min(500).max(600_000).default(5000),
    heldOpenMs: z.number().int().min(1000).max(24 * 3600_000).default(30_000),
    failMode: z.enum(['secure', 'safe']).default('secure'),
    contact: contactInputSchema.optional(),
    rex: rexInputSchema.optional(),
    lock: lockOutputSchema.optional(),
    /** On a grant, the person's card credential as a Wiegand frame to a panel (docs/doors.md). */
    credentialOutput: credentialOutputSchema.optional(),
    /** Inside these windows the door stays unlocked (office hours); no schedule = never. */
    unlockSchedule: scheduleSchema.optional(),
  })
  .superRefine((d, ctx) => {
    if (d.contact?.mqtt !== undefined && d.contact.mqtt === d.rex?.mqtt) {
      ctx.addIssue({ code: 'custom', path: ['rex', 'mqtt'], message: 'the contact and the REX button listen on the same topic', ...hinted("give each sensor its own state topic") });
    }
    // One GPIO line is one signal: the v1 tools cannot share a line between two requests.
    const lines: Array<[path: Array<string | number>, chip: string, line: number]> = [];
    if (d.contact?.gpio) lines.push([['contact', 'gpio', 'line'], d.contact.gpio.chip, d.contact.gpio.line]);
    if (d.rex?.gpio) lines.push([['rex', 'gpio', 'line'], d.rex.gpio.chip, d.rex.gpio.line]);
    if (d.lock?.gpio) lines.push([['lock', 'gpio', 'line'], d.lock.gpio.chip, d.lock.gpio.line]);
    const wg = d.credentialOutput?.gpio;
    if (wg) lines.push([['credentialOutput', 'gpio', 'd0'], wg.chip, wg.d0], [['credentialOutput', 'gpio', 'd1'], wg.chip, wg.d1]);
    const seen = new Map<string, string>();
    for (const [path, chip, line] of lines) {
      const key = `${chip.replace(/^\/dev\//, '')}:${line}`;
      const first = seen.get(key);
      if (first !== undefined && !(path[0] === 'credentialOutput' && first === 'credentialOutput.gpio.d0')) {
        ctx.addIssue({ code: 'custom', path, message: `GPIO ${chip} line ${line} is already used by ${first}`, ...hinted('give each door signal its own GPIO line (see `gpioinfo`)') });
      }
      if (first === undefined) seen.set(key, path.join('.'));
    }
    const relay = d.lock?.relay;
    if (relay && relay.timeoutMs >= d.strikeMs) {
      ctx.addIssue({ code: 'custom', path: ['lock', 'relay', 'timeoutMs'], message: `a relay timeout of ${relay.timeoutMs} ms is not shorter than the strike (${d.strikeMs} ms)`, ...hinted('a relay that answers after the strike ended is useless: lower timeoutMs (e.g. 1000) or raise strikeMs') });
    }
  });

export const gateSchema = z
  .strictObject({
    id,
    name: z.string().min(1).optional(),
    cameras: z.array(id).min(1, 'a gate needs at least one camera'),
    /**
     * A zone id (`cameras[].zones`): only faces whose box centre is inside that zone of their
     * camera decide at this gate; faces elsewhere are tracked but never open or deny. Every camera
     * of the gate must define the zone. No zone = the whole frame.
     */
    zone: id.optional(),
    /** Who may pass: identity ids or names, and groups. Empty (the default) grants nobody. */
    allow: z
      .strictObject({
        identities: z.array(z.string().min(1)).default([]),
        groups: z.array(z.string().min(1)).default([]),
      })
      .default({ identities: [], groups: [] }),
    /** No schedule = always open. */
    schedule: scheduleSchema.optional(),
    maskPolicy: z.enum(['allow', 'require', 'deny']).default('allow'),
    /**
     * Presentation-attack check, on by default: a gate that requires liveness denies 'liveness'
     * when the track's liveness (the median of its last frames' scores) is under the threshold,
     * and waits while it is not known yet (models.liveness.minFrames). `threshold` overrides the
     * liveness models' calibrated one (models/manifest.json, or a local `facegate eval --pad DIR
     * --write-thresholds`). Turn it off only where the camera cannot tell (see docs/liveness.md).
     */
    liveness: z
      .strictObject({ required: z.boolean().default(true), threshold: z.number().min(0).max(1).optional() })
      .default({ required: true }),
    /**
     * The same identity on `n` of the track's last `m` recognitions confirms it. `minScore`
     * (optional) is a per-gate similarity floor on top of the recognizer's own threshold (the
     * embedder's calibrated one unless config overrides it); `minScoreMasked` is the floor for
     * masked faces (default: minScore). Similarities of different embedders are not comparable:
     * re-check these floors when the embedder changes.
     */
    confirmation: z
      .strictObject({
        n: z.number().int().min(1).default(2),
        m: z.number().int().min(1).default(3),
        minScore: z.number().min(-1).max(1).optional(),
        minScoreMasked: z.number().min(-1).max(1).optional(),
      })
      .refine((c) => c.n <= c.m, { message: 'confirmation.n must be <= confirmation.m', path: ['n'] })
      .default({ n: 2, m: 3 }),
    cooldownMs: z.number().int().min(0).default(5000),
    antiPassback: antiPassbackSchema.optional(),
    actuation: actuationSchema.optional(),
    /** The door behind the gate: lock, contact, REX, alarms and modes (docs/doors.md). */
    door: doorSchema.optional(),
  })
  .refine((g) => g.antiPassback?.pairedGateId === undefined || g.antiPassback.pairedGateId !== g.id, { message: 'a gate cannot be its own anti-passback pair', path: ['antiPassback', 'pairedGateId'] });

export const gatesSchema = z.array(gateSchema);

/** What a person writes (defaults optional). */
export type GateConfigInput = z.input<typeof gateSchema>;
/** A parsed gate: every default filled in. */
export type GateConfig = z.output<typeof gateSchema>;
/** The policy `decide` runs on: a parsed gate config. */
export type GatePolicy = GateConfig;
export type GateScheduleConfig = z.output<typeof scheduleSchema>;
export type WeeklyWindowConfig = z.output<typeof weeklyWindowSchema>;
export type ScheduleExceptionConfig = z.output<typeof scheduleExceptionSchema>;
export type MaskPolicy = GateConfig['maskPolicy'];
export type AntiPassbackConfig = NonNullable<GateConfig['antiPassback']>;
export type ActuationConfig = z.output<typeof actuationSchema>;
export type WebhookConfig = z.output<typeof webhookSchema>;
export type CommandConfig = z.output<typeof commandSchema>;
export type DoorConfig = z.output<typeof doorSchema>;
export type ContactInputConfig = z.output<typeof contactInputSchema>;
export type RexInputConfig = z.output<typeof rexInputSchema>;
export type RelayLockConfig = z.output<typeof relayLockSchema>;
export type CredentialOutputConfig = z.output<typeof credentialOutputSchema>;

function issuesText(error: z.ZodError, prefix: string): string {
  return error.issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.')}: ${i.message}`).join('; ');
}

/**
 * Parse and cross-check a list of gates. Throws GateError: GATE_CONFIG_INVALID (schema),
 * GATE_TIME_ZONE_INVALID (a schedule's zone), GATE_PAIR_INVALID (anti-passback pairs).
 */
export function parseGates(input: unknown): GatePolicy[] {
  const result = gatesSchema.safeParse(input);
  if (!result.success) {
    const tz = result.error.issues.find((i) => i.path.at(-1) === 'timeZone');
    if (tz) {
      const gateIndex = Number(tz.path[0]);
      const zone = Array.isArray(input) ? (input[gateIndex] as { schedule?: { timeZone?: unknown } } | undefined)?.schedule?.timeZone : undefined;
      throw new GateError('GATE_TIME_ZONE_INVALID', `gates.${tz.path.join('.')}: unknown time zone '${String(zone)}'`, {
        context: { gate: gateIndex, timeZone: String(zone) },
        hint: "use an IANA time zone name such as 'Europe/Berlin', 'America/New_York' or 'UTC' (the list: Intl.supportedValuesOf('timeZone'))",
      });
    }
    throw new GateError('GATE_CONFIG_INVALID', `invalid gate configuration: ${issuesText(result.error, 'gates')}`, {
      hint: 'fix the listed keys; see gateSchema in src/gates/config.ts for every field and its default',
    });
  }
  const gates = result.data;
  const byId = new Map<string, GatePolicy>();
  for (const g of gates) {
    if (byId.has(g.id)) throw new GateError('GATE_CONFIG_INVALID', `two gates have the id '${g.id}'`, { context: { gate: g.id }, hint: 'give every gate its own id' });
    byId.set(g.id, g);
  }
  for (const g of gates) {
    const ap = g.antiPassback;
    // An area needs no partner here: its other gates may be on other boxes.
    if (!ap || ap.pairedGateId === undefined) continue;
    const other = byId.get(ap.pairedGateId);
    const hint = `configure both gates: '${g.id}' with antiPassback { pairedGateId: '${ap.pairedGateId}', direction: '${ap.direction}' } and '${ap.pairedGateId}' with { pairedGateId: '${g.id}', direction: '${ap.direction === 'entry' ? 'exit' : 'entry'}' }`;
    if (!other) throw new GateError('GATE_PAIR_INVALID', `gate '${g.id}': anti-passback pair '${ap.pairedGateId}' is not a configured gate`, { context: { gate: g.id, pairedGateId: ap.pairedGateId }, hint });
    if (other.antiPassback?.pairedGateId !== g.id || other.antiPassback.direction === ap.direction) {
      throw new GateError('GATE_PAIR_INVALID', `gates '${g.id}' and '${other.id}' are not a matching entry/exit anti-passback pair`, { context: { gate: g.id, pairedGateId: other.id }, hint });
    }
  }
  return gates;
}

/** Parse one gate on its own (no pair check: use parseGates for a whole configuration). */
export function parseGate(input: unknown): GatePolicy {
  const result = gateSchema.safeParse(input);
  if (result.success) return result.data;
  return parseGates([input])[0];
}

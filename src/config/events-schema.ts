/**
 * The `events:` section: the event database and its retention, snapshots, and the outputs (the
 * WebSocket feed and the MQTT / Home Assistant sink).
 */
import { z } from 'zod';
import { urlSecrets } from '../redact.ts';
import { MAX_LENGTH } from './limits.ts';
import { filePath, positiveInt, slug, type IssueParams } from './schema-common.ts';
import { nodeIdReason, reservedTopicReason } from './topic-rules.ts';
import { EVENT_TYPE_PATTERN } from '../types.ts';

// events.outputs.mqtt: the MQTT / Home Assistant sink (src/outputs). Secrets: the URL may not carry
// credentials (a URL is echoed in logs and tickets); the password is `password` or, better, a
// file that only the service user reads.
const MQTT_URL = /^(?:mqtts?|wss?):\/\/\S+$/i;
/** An MQTT topic level path without wildcards, empty levels at the ends, or NUL. */
const MQTT_TOPIC = /^[^#+\s\u0000/](?:[^#+\s\u0000]*[^#+\s\u0000/])?$/;
const topicPrefix = z.string().max(MAX_LENGTH.name).regex(MQTT_TOPIC, { error: "expected MQTT topic levels without wildcards or spaces, e.g. 'facegate/door-1' (no leading or trailing '/')" });
// The event type patterns of src/events/filter.ts (config does not import the events stage).

export const mqttOutputSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    url: z.string().min(1).max(MAX_LENGTH.url).optional().meta({ description: 'broker URL, without credentials (use username + passwordFile)' }),
    nodeId: slug.optional().meta({ description: "this facegate in topics and Home Assistant (default: the host name, lower-cased, other characters as '-')" }),
    clientId: z.string().min(1).max(MAX_LENGTH.id).regex(/^[A-Za-z0-9_-]+$/, { error: "expected letters, digits, '-' and '_'" }).optional().meta({ description: 'MQTT client id (default facegate-<nodeId>)' }),
    username: z.string().min(1).max(MAX_LENGTH.name).optional(),
    password: z.string().min(1).max(MAX_LENGTH.secret).optional().meta({ description: 'prefer passwordFile; never logged' }),
    passwordFile: filePath.optional().meta({ description: 'file holding the password (first line); read at start' }),
    tls: z.strictObject({ ca: filePath.optional(), cert: filePath.optional(), key: filePath.optional() }).optional().meta({ description: 'PEM files for mqtts:// / wss:// (ca: a private CA; cert + key: client certificate)' }),
    topicPrefix: topicPrefix.optional().meta({ description: 'default facegate/<nodeId>' }),
    discovery: z
      .strictObject({
        enabled: z.boolean().default(true),
        prefix: topicPrefix.default('homeassistant'),
      })
      .prefault({}),
    qos: z.number().int().min(0).max(2).default(1).meta({ description: 'QoS of events (0, 1 or 2); retained state topics use the same' }),
    types: z
      .array(z.string().max(MAX_LENGTH.word).regex(EVENT_TYPE_PATTERN, { error: "expected an event type ('gate.denied'), a family ('gate.*') or '*'" }))
      .min(1)
      .max(100)
      .default(['*'])
      .meta({ description: 'event types published on <prefix>/events' }),
    commands: z.boolean().default(false).meta({ description: 'accept OPEN / LOCK on <prefix>/gate/<id>/set (audited, actor mqtt:<sender user property> or mqtt:unidentified)' }),
    // A flood of OPENs would open the door once each: a person on a dashboard never needs that.
    commandLimit: z
      .strictObject({
        perMinute: z.number().min(0.1).max(600).default(12).meta({ description: 'commands per gate and action (OPEN, LOCK) per minute, refilled evenly' }),
        burst: z.number().int().min(1).max(100).default(3).meta({ description: 'commands per gate and action accepted at once before the rate applies' }),
      })
      .prefault({})
      .meta({ description: 'excess commands are refused and logged once per minute per gate and action, with the count' }),
    echoCheck: z
      .strictObject({
        enabled: z.boolean().default(true),
        timeoutMs: z.number().int().min(100).max(60_000).default(5000).meta({ description: 'the test message must come back within this' }),
      })
      .prefault({})
      .meta({ description: 'at every connect, subscribe to <prefix>/echo/<clientId>, publish a test message there and expect it back: a broker that accepts publishes but drops them shows as a warning in the health' }),
    unlockedMs: z.number().int().min(100).max(3_600_000).default(5000).meta({ description: 'a gate reads UNLOCKED this long after a grant or a manual open' }),
  })
  .superRefine((m, ctx) => {
    if (m.enabled && m.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when mqtt is enabled', params: { hint: 'add `url: mqtt://HOST:1883`, or set `enabled: false`' } satisfies IssueParams });
    }
    if (m.url !== undefined && !MQTT_URL.test(m.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'expected an mqtt://, mqtts://, ws:// or wss:// URL', params: { hint: 'for example mqtt://192.0.2.5:1883 (mqtts:// for TLS, ws:// for MQTT over WebSocket)' } satisfies IssueParams });
    } else if (m.url !== undefined && urlSecrets(m.url).length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'the URL carries credentials (user:password@ or a password parameter); they would show in logs',
        params: { hint: 'write the URL without them and set `username:` and `passwordFile:` (or `password:`) instead' } satisfies IssueParams,
      });
    }
    if (m.password !== undefined && m.passwordFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['passwordFile'], message: 'give either `password` or `passwordFile`, not both', params: { hint: 'keep passwordFile (the password stays out of the config) and remove password' } satisfies IssueParams });
    }
    if ((m.password !== undefined || m.passwordFile !== undefined) && m.username === undefined) {
      ctx.addIssue({ code: 'custom', path: ['username'], message: 'a password needs a username', params: { hint: 'add `username: facegate` (the broker user)' } satisfies IssueParams });
    }
    const nodeWhy = m.nodeId === undefined ? undefined : nodeIdReason(m.nodeId);
    if (nodeWhy) ctx.addIssue({ code: 'custom', path: ['nodeId'], message: nodeWhy, params: { hint: "write it without '_gate_' and '_camera_', e.g. with '-' instead of '_'" } satisfies IssueParams });
    const reserved: Array<[(string | number)[], string | undefined, string]> = [
      [['topicPrefix'], m.topicPrefix, "use an ordinary prefix such as 'facegate/door-1' (or leave it out: facegate/<nodeId>)"],
      [['discovery', 'prefix'], m.discovery.prefix, "use Home Assistant's discovery prefix, 'homeassistant' unless you changed it there"],
    ];
    for (const [path, topic, hint] of reserved) {
      const why = topic === undefined ? undefined : reservedTopicReason(topic);
      if (why) ctx.addIssue({ code: 'custom', path, message: `${why}; every message published under it would be lost`, params: { hint } satisfies IssueParams });
    }
    if (m.tls && (m.tls.cert === undefined) !== (m.tls.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', m.tls.cert === undefined ? 'cert' : 'key'], message: 'a client certificate needs both cert and key', params: { hint: 'set both tls.cert and tls.key, or neither' } satisfies IssueParams });
    }
  });

export const eventsSchema = z.strictObject({
  db: filePath.default('data/events.sqlite'),
  retention: z
    .strictObject({
      maxAgeDays: positiveInt.default(30),
      maxEvents: positiveInt.default(1_000_000),
    })
    .prefault({}),
  snapshots: z
    .strictObject({
      dir: filePath.default('data/snapshots'),
      retentionDays: positiveInt.default(7),
      blurOthers: z.boolean().default(false).meta({ description: "the frame snapshot of a face event pixelates every other face the tracker follows in that frame (bystanders), leaving the subject's face sharp; applied before the JPEG is encrypted and written" }),
    })
    .prefault({}),
  outputs: z
    .strictObject({
      ws: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
      /** Absent = no MQTT sink (so the defaults of a file without it stay as they were). */
      mqtt: mqttOutputSchema.optional(),
    })
    .prefault({}),
});

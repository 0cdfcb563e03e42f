/**
 * The checks that span sections (camera and gate ids, gate cameras and zones, anti-passback pairs,
 * MQTT door inputs or credential output without a broker, token hashes, auth on a public bind) and the scan for text that cannot be stored (NUL, lone
 * surrogates). Both read the raw document, so parseConfig runs them even where zod stopped early.
 */
import { isRecord } from '../lib/records.ts';
import { describeBadText, findBadText } from '../lib/text.ts';
import { redactText } from '../redact.ts';
import { SLUG } from './schema-common.ts';
import { isLoopback } from './service-schema.ts';
import { suggestSlug, topicLevelCollisions, type LevelOwner } from './topic-rules.ts';

type Loose = Readonly<Record<string, unknown>>;
const records = (v: unknown): Loose[] => (Array.isArray(v) ? v.map((x) => (isRecord(x) ? x : {})) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface CrossCheckIssue {
  readonly path: (string | number)[];
  readonly message: string;
  readonly hint: string;
}

/**
 * Checks across sections. They run even when another part of the file is invalid (so one pass
 * lists every problem), hence the defensive reads: any value may still be of the wrong type. They
 * read the raw document as well as the parsed one (a missing key means its default), so
 * parseConfig also runs them when zod stopped early.
 */
export function crossCheckIssues(data: unknown): CrossCheckIssue[] {
  const out: CrossCheckIssue[] = [];
  if (!isRecord(data)) return out;
  const issue = (path: (string | number)[], message: string, hint: string): void => {
    out.push({ path, message, hint });
  };
  const uniqueIds = (at: string[], items: Loose[], what: string): Map<string, number> => {
    const seen = new Map<string, number>();
    items.forEach((item, i) => {
      const id = str(item.id);
      if (id === undefined) return;
      const first = seen.get(id);
      if (first !== undefined) issue([...at, i, 'id'], `duplicate ${what} id '${id}' (also ${at.join('.')}[${first}])`, `give every ${what} its own id`);
      else seen.set(id, i);
    });
    return seen;
  };

  const cameras = uniqueIds(['cameras'], records(data.cameras), 'camera');
  const gates = records(data.gates);
  const gateIds = uniqueIds(['gates'], gates, 'gate');

  // Gate ids become MQTT topic levels and Home Assistant unique ids, like camera ids (slugs by
  // their schema): the same rule, so no id is a wildcard, a level separator or a `$` topic.
  gates.forEach((g, i) => {
    const id = str(g.id);
    if (id === undefined || id.length === 0 || SLUG.test(id)) return;
    // The suggestion is the id rewritten, which redaction would no longer recognise: none for an
    // id that carries a secret (a URL pasted into the wrong line).
    const example = redactText(id) === id ? suggestSlug(id) : 'front-door';
    issue(['gates', i, 'id'], "expected a slug: lowercase letters, digits, '-' and '_' (e.g. 'front-door'), at most 64 characters", `rename it, e.g. '${example}' (and use the new id wherever the gate is named: pairedGateId, API calls, automations)`);
  });
  // Defence in depth: whatever the id rules, no two ids may share a topic level (one gate's
  // command topic would be another's, and both would write one retained state).
  const owners = (kind: string, items: Loose[], section: string): LevelOwner[] =>
    items.flatMap((item, i) => {
      const id = str(item.id);
      return id === undefined ? [] : [{ kind, id, path: [section, i, 'id'] }];
    });
  for (const c of topicLevelCollisions([...owners('camera', records(data.cameras), 'cameras'), ...owners('gate', gates, 'gates')])) {
    const [section, index] = c.first.path;
    issue(
      [...c.second.path],
      `${c.first.kind} ids '${c.first.id}' (${String(section)}[${String(index)}]) and '${c.second.id}' both become the MQTT topic level '${c.level}': a command for one would reach the other`,
      "rename one of them so the ids differ in letters, digits, '-' or '_'",
    );
  }
  const known = [...cameras.keys()];
  // Door inputs over MQTT use the broker of events.outputs.mqtt (off unless `enabled: true`).
  const events = isRecord(data.events) ? data.events : {};
  const outputs = isRecord(events.outputs) ? events.outputs : {};
  const mqttOn = isRecord(outputs.mqtt) && outputs.mqtt.enabled === true;

  const models = isRecord(data.models) ? data.models : {};
  // Both default to on: only an explicit `enabled: false` turns the models off, and only an
  // explicit `required: false` lets a gate decide without them.
  const livenessOn = !(isRecord(models.liveness) && models.liveness.enabled === false);

  gates.forEach((g, i) => {
    if (Array.isArray(g.cameras)) {
      g.cameras.forEach((c, j) => {
        if (typeof c === 'string' && !cameras.has(c)) {
          issue(['gates', i, 'cameras', j], `unknown camera '${c}'`, known.length ? `use one of the configured cameras: ${known.join(', ')}` : 'add the camera under `cameras:` first');
        }
      });
    }
    // A gate's zone must exist on each of its cameras: a typo would otherwise make the door
    // silently ignore everyone (no face is ever "inside" a zone that does not exist).
    const zone = str(g.zone);
    if (zone !== undefined && Array.isArray(g.cameras)) {
      const cameraList = records(data.cameras);
      g.cameras.forEach((c) => {
        const at = typeof c === 'string' ? cameras.get(c) : undefined;
        if (at === undefined) return;
        const zones = records(cameraList[at].zones).map((z) => str(z.id));
        if (!zones.includes(zone)) {
          issue(['gates', i, 'zone'], `camera '${c}' has no zone '${zone}'`, zones.length ? `use one of its zones (${zones.filter((z) => z !== undefined).join(', ')}), or add '${zone}' under that camera's zones:` : `add \`zones: [{ id: ${zone}, polygon: [[x, y], ...] }]\` to camera '${c}' (corners 0..1 from the top-left)`);
        }
      });
    }
    const door = isRecord(g.door) ? g.door : undefined;
    for (const input of ['contact', 'rex'] as const) {
      const source = door && isRecord(door[input]) ? door[input] : undefined;
      if (source?.mqtt === undefined || mqttOn) continue;
      issue(
        ['gates', i, 'door', input, 'mqtt'],
        `the door's ${input} listens on MQTT, but events.outputs.mqtt is not ${isRecord(outputs.mqtt) ? 'enabled' : 'configured'}: the door would never see it`,
        'configure the broker the sensor publishes to as `events: { outputs: { mqtt: { enabled: true, url: mqtt://HOST:1883 } } }` (door inputs use its URL, credentials and TLS)',
      );
    }
    const credentialOutput = door && isRecord(door.credentialOutput) ? door.credentialOutput : undefined;
    if (credentialOutput?.mqtt !== undefined && !mqttOn) {
      issue(
        ['gates', i, 'door', 'credentialOutput', 'mqtt'],
        `the door's credential output publishes on MQTT, but events.outputs.mqtt is not ${isRecord(outputs.mqtt) ? 'enabled' : 'configured'}: no card number would ever reach the adapter`,
        'configure the broker the Wiegand adapter listens on as `events: { outputs: { mqtt: { enabled: true, url: mqtt://HOST:1883 } } }`, or use `credentialOutput: { command: { argv: [...] } }`',
      );
    }
    const livenessRequired = !(isRecord(g.liveness) && g.liveness.required === false);
    if (livenessRequired && !livenessOn) {
      issue(['gates', i, 'liveness', 'required'], 'this gate requires liveness (the default) but models.liveness.enabled is false', 'set `models: { liveness: { enabled: true } }`, or `liveness: { required: false }` on this gate (docs/liveness.md says what that gives up)');
    }
    const ap = isRecord(g.antiPassback) ? g.antiPassback : undefined;
    const pair = str(ap?.pairedGateId);
    const id = str(g.id);
    if (!ap || pair === undefined || id === undefined || pair === id) return;
    const j = gateIds.get(pair);
    const dir = str(ap.direction);
    const other = dir === 'entry' ? 'exit' : 'entry';
    const hint = `configure both gates: '${id}' with antiPassback { pairedGateId: ${pair}, direction: ${dir} } and '${pair}' with { pairedGateId: ${id}, direction: ${other} }`;
    if (j === undefined) {
      issue(['gates', i, 'antiPassback', 'pairedGateId'], `anti-passback pair '${pair}' is not a configured gate`, hint);
      return;
    }
    const back = isRecord(gates[j].antiPassback) ? gates[j].antiPassback : undefined;
    if (!isRecord(back) || str(back.pairedGateId) !== id || str(back.direction) === dir) {
      issue(['gates', i, 'antiPassback'], `gates '${id}' and '${pair}' are not a matching entry/exit anti-passback pair`, hint);
    }
  });

  const auth = isRecord(data.auth) ? data.auth : {};
  const tokens = records(auth.tokens);
  uniqueIds(['auth', 'tokens'], tokens, 'token');
  const hashes = new Map<string, number>();
  tokens.forEach((t, i) => {
    const h = str(t.sha256)?.toLowerCase();
    if (h === undefined) return;
    const first = hashes.get(h);
    if (first !== undefined) issue(['auth', 'tokens', i, 'sha256'], `the same token hash as auth.tokens[${first}]`, 'give every holder its own token (`facegate config hash-token --generate`)');
    else hashes.set(h, i);
  });

  const server = isRecord(data.server) ? data.server : {};
  const bind = str(server.bind) ?? '127.0.0.1';
  if (auth.enabled === false && !isLoopback(bind)) {
    issue(
      ['auth', 'enabled'],
      `auth is off while the API listens on '${bind}', beyond this machine: anyone on the network could watch and open the gates`,
      'turn auth on (`enabled: true`) and add tokens, or bind to 127.0.0.1',
    );
  }
  return out;
}

/**
 * Strings (values and keys) holding a NUL or a lone surrogate, anywhere in the raw document. Such
 * text is valid in YAML (`"\0"`, `"\ud800"` in double quotes) and in JS, but a gate name with it
 * reaches the event log and stops at the fleet hub's PostgreSQL, and a lone surrogate cannot be
 * written as UTF-8 at all. The value itself is never echoed (it may be a password).
 */
export function badTextIssues(data: unknown, maxDepth = 64): CrossCheckIssue[] {
  const out: CrossCheckIssue[] = [];
  const hint = 'remove the character: in YAML it is usually an escape in double quotes ("\\0", "\\x00", "\\ud800") or a paste from a binary file';
  const walk = (v: unknown, path: (string | number)[], depth: number): void => {
    if (depth > maxDepth) return;
    if (typeof v === 'string') {
      const bad = findBadText(v);
      if (bad) out.push({ path, message: describeBadText(bad, 'the value'), hint });
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, i], depth + 1));
    } else if (isRecord(v)) {
      for (const [k, x] of Object.entries(v)) {
        const badKey = findBadText(k);
        if (badKey) {
          out.push({ path, message: describeBadText(badKey, 'a key here'), hint });
          continue;
        }
        walk(x, [...path, k], depth + 1);
      }
    }
  };
  walk(data, [], 0);
  return out;
}

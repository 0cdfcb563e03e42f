import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { formatConfigPath, parseConfig, type ConfigError, type ConfigIssue } from '../../src/config/index.ts';
import { doorSchema } from '../../src/gates/config.ts';
import { configError } from '../helpers/config-error.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const paths = (e: ConfigError): string[] => e.issues.map((i) => formatConfigPath(i.path));
const issueAt = (e: ConfigError, path: string): ConfigIssue | undefined => e.issues.find((i) => formatConfigPath(i.path) === path);
const MQTT = { outputs: { mqtt: { enabled: true, url: 'mqtt://192.0.2.5:1883' } } };
/** A config with one door; `events: null` leaves the events section (and its broker) out. */
const withDoor = (door: unknown, events: unknown = MQTT) => ({ cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }], gates: [{ id: 'front', cameras: ['door'], door }], ...(events === null ? {} : { events }) });

t.test('a door with every default', async (t) => {
  const c = parseConfig(withDoor({ contact: { mqtt: 'ha/front/contact' } }));
  t.same(c.gates[0].door, { strikeMs: 5000, heldOpenMs: 30_000, failMode: 'secure', contact: { mqtt: 'ha/front/contact', open: 'ON', closed: 'OFF' } });
  t.equal(parseConfig(withDoor(undefined)).gates[0].door, undefined, 'no door: none');
});

t.test('a full door: contact with a JSON field, REX, Shelly relay, unlock schedule', async (t) => {
  const door = doorSchema.parse({
    strikeMs: 4000,
    failMode: 'safe',
    contact: { mqtt: 'zigbee2mqtt/front', field: 'contact', open: 'false', closed: 'true' },
    rex: { mqtt: 'zigbee2mqtt/button', field: 'action', press: 'single' },
    lock: { relay: { url: 'http://192.0.2.20' } },
    unlockSchedule: { timeZone: 'UTC', weekly: [{ days: ['mon'], start: '08:00', end: '17:00' }] },
  });
  t.same(door.lock, { relay: { url: 'http://192.0.2.20', switchId: 0, toggleAfterMs: 60_000, timeoutMs: 2000 } });
  t.same(door.rex, { mqtt: 'zigbee2mqtt/button', field: 'action', press: 'single' });
  t.same(doorSchema.parse({ contact: { gpio: { chip: 'gpiochip0', line: 17 } } }).contact?.gpio, { chip: 'gpiochip0', line: 17, activeLow: false });
  t.ok(doorSchema.safeParse({ rex: { webhook: { secret: 'x'.repeat(32) } } }).success, 'a signed webhook input');
});

t.test('bad door config: each issue has its path and a fix', async (t) => {
  const e = configError(() =>
    parseConfig(
      withDoor({
        strikeMs: 100,
        failMode: 'open',
        contact: { mqtt: 'zigbee2mqtt/#', gpio: { chip: 'gpiochip0', line: 1 } },
        rex: {},
        lock: {},
        extra: 1,
      }),
    ),
  );
  t.same(
    paths(e).sort(),
    ['gates[0].door.strikeMs', 'gates[0].door.failMode', 'gates[0].door.contact.mqtt', 'gates[0].door.contact', 'gates[0].door.rex', 'gates[0].door.lock', 'gates[0].door.extra'].sort(),
  );
  t.match(issueAt(e, 'gates[0].door.contact')?.message, /has 2 sources/);
  t.match(issueAt(e, 'gates[0].door.contact')?.hint, /exactly one of `mqtt: TOPIC`/);
  t.match(issueAt(e, 'gates[0].door.rex')?.message, /needs a source/);
  t.match(issueAt(e, 'gates[0].door.contact.mqtt')?.message, /wildcards/);
  t.match(issueAt(e, 'gates[0].door.contact.mqtt')?.hint, /state topic/);
  t.match(issueAt(e, 'gates[0].door.lock')?.hint, /Shelly/);
  t.match(e.describe(), /gates\[0\]\.door\.contact/);
  t.match(e.describe(), /fix:/);
});

t.test('cross-field checks: same payloads, same topic, a relay slower than the strike', async (t) => {
  const e = configError(() =>
    parseConfig(withDoor({ strikeMs: 1000, contact: { mqtt: 'a/b', open: 'ON', closed: 'ON' }, rex: { mqtt: 'a/b' }, lock: { relay: { url: 'http://192.0.2.20', timeoutMs: 2000 } } })),
  );
  t.same(paths(e).sort(), ['gates[0].door.contact.closed', 'gates[0].door.rex.mqtt', 'gates[0].door.lock.relay.timeoutMs'].sort());
  t.match(issueAt(e, 'gates[0].door.lock.relay.timeoutMs')?.hint, /lower timeoutMs/);
  t.match(issueAt(e, 'gates[0].door.contact.closed')?.hint, /zigbee2mqtt/);
  const url = configError(() => parseConfig(withDoor({ lock: { relay: { url: 'ftp://relay' } } })));
  t.same(paths(url), ['gates[0].door.lock.relay.url']);
  const chip = configError(() => parseConfig(withDoor({ contact: { gpio: { chip: '/sys/class/gpio', line: 1 } } })));
  t.same(paths(chip), ['gates[0].door.contact.gpio.chip']);
});

t.test('the commented door example in config/default.yaml parses', async (t) => {
  const text = readFileSync(resolve(ROOT, 'config/default.yaml'), 'utf8');
  const start = text.indexOf('# gates:\n');
  const end = text.indexOf('\nevents:', start);
  const example = text
    .slice(start, end)
    .split('\n')
    .map((l) => l.replace(/^# ?/, ''))
    .join('\n');
  const gates = (parseYaml(example) as { gates: Array<Record<string, unknown>> }).gates;
  t.ok(gates[0].door, 'the example has a door');
  const door = doorSchema.parse(gates[0].door);
  t.equal(door.failMode, 'secure');
  t.match(door.contact, { mqtt: 'zigbee2mqtt/entrance_contact', field: 'contact' });
  t.match(door.lock?.relay, { url: 'http://192.0.2.20' });
});

t.test('MQTT door inputs without a broker: refused by the config check with the path and the fix', async (t) => {
  const none = configError(() => parseConfig(withDoor({ contact: { mqtt: 'ha/front/contact' }, rex: { mqtt: 'ha/front/rex' } }, null)));
  t.same(paths(none).sort(), ['gates[0].door.contact.mqtt', 'gates[0].door.rex.mqtt']);
  t.match(issueAt(none, 'gates[0].door.contact.mqtt'), { message: /listens on MQTT, but events\.outputs\.mqtt is not configured/, hint: /events: \{ outputs: \{ mqtt: \{ enabled: true, url: mqtt:\/\/HOST:1883/ });
  const off = configError(() => parseConfig(withDoor({ contact: { mqtt: 'ha/front/contact' } }, { outputs: { mqtt: { url: 'mqtt://192.0.2.5:1883' } } })));
  t.same(paths(off), ['gates[0].door.contact.mqtt']);
  t.match(issueAt(off, 'gates[0].door.contact.mqtt')?.message, /is not enabled/);
  // With the broker configured and enabled, or a door without MQTT inputs: fine.
  t.ok(parseConfig(withDoor({ contact: { mqtt: 'ha/front/contact' } })).gates[0].door);
  t.ok(parseConfig(withDoor({ strikeMs: 3000 }, null)).gates[0].door, 'a door with no inputs needs no broker');
  // The card-number output to a Wiegand adapter on MQTT needs the broker too; a command does not.
  const card = configError(() => parseConfig(withDoor({ credentialOutput: { mqtt: 'wiegand/front' } }, null)));
  t.same(paths(card), ['gates[0].door.credentialOutput.mqtt']);
  t.match(issueAt(card, 'gates[0].door.credentialOutput.mqtt'), { message: /credential output publishes on MQTT, but events\.outputs\.mqtt is not configured/, hint: /command: \{ argv/ });
  t.ok(parseConfig(withDoor({ credentialOutput: { command: { argv: ['wiegand-send', '{bits}'] } } }, null)).gates[0].door, 'a command output needs no broker');
});

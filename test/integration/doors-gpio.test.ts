/**
 * The doors part's GPIO driver (src/app/doors.ts with src/doors/gpio.ts) against the kernel's
 * gpio-sim chip and Debian's libgpiod v1 tools: the contact and the REX are lines whose level the
 * test sets through the simulator's pull (as a switch wired to the pin would), the lock is a line
 * facegate drives with gpioset and the test reads back from the simulator.
 *
 * Runs only where a gpio-sim chip can be made (configfs at /sys/kernel/config/gpio-sim, root) and
 * the tools (`apt install gpiod`, v1.6) are on PATH; skipped with the reason otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BehaviorSubject } from 'rxjs';
import t from 'tap';
import { startServiceDoors } from '../../src/app/doors.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { parseGpiodVersion } from '../../src/doors/index.ts';
import { EventBus, EventLog, type Event } from '../../src/events/index.ts';
import { Followers } from '../../src/lib/follow.ts';
import { Lifetime } from '../../src/lib/lifetime.ts';
import { until } from '../../src/lib/time.ts';
import { createLogger } from '../../src/log.ts';

const CONFIGFS = '/sys/kernel/config/gpio-sim';
const CONTACT = 0;
const REX = 1;
const LOCK = 2;

/** Why this machine cannot run the test, or undefined when it can. */
function skipReason(): string | undefined {
  if (process.platform !== 'linux') return `gpio-sim is Linux only (this is ${process.platform})`;
  if (!existsSync(CONFIGFS)) return `no gpio-sim configfs at ${CONFIGFS} (needs configfs mounted and the gpio-sim module: \`modprobe gpio-sim\`)`;
  if (process.getuid?.() !== 0) return 'making a gpio-sim chip needs root';
  const r = spawnSync('gpiodetect', ['--version'], { encoding: 'utf8' });
  if (r.error) return 'the libgpiod tools are not installed (`apt install gpiod`)';
  const v = parseGpiodVersion(`${r.stdout}${r.stderr}`);
  if (!v || v.major !== 1 || v.minor < 6) return `libgpiod tools ${v ? `v${v.major}.${v.minor}` : '(version unreadable)'} are not the v1.6+ v1 tools the driver speaks`;
  return undefined;
}

/** One simulated chip with 8 lines, made live through configfs; `remove` once nothing holds its lines. */
class SimChip {
  private constructor(readonly dir: string, readonly chip: string, private readonly sysfs: string) {}

  static make(): SimChip {
    const dir = join(CONFIGFS, `facegate-doors-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(dir);
    mkdirSync(join(dir, 'bank0'));
    writeFileSync(join(dir, 'bank0', 'num_lines'), '8');
    writeFileSync(join(dir, 'live'), '1');
    const chip = readFileSync(join(dir, 'bank0', 'chip_name'), 'utf8').trim();
    const dev = readFileSync(join(dir, 'dev_name'), 'utf8').trim();
    return new SimChip(dir, chip, join('/sys/devices/platform', dev, chip));
  }

  remove(): void {
    writeFileSync(join(this.dir, 'live'), '0');
    rmdirSync(join(this.dir, 'bank0'));
    rmdirSync(this.dir);
  }

  /** What the outside world puts on an input line: the simulator's pull. */
  pull(line: number, level: 0 | 1): void {
    writeFileSync(join(this.sysfs, `sim_gpio${line}`, 'pull'), level === 1 ? 'pull-up' : 'pull-down');
  }

  /** The level on a line as the chip sees it (what a lock driven by facegate puts out). */
  value(line: number): number {
    return Number(readFileSync(join(this.sysfs, `sim_gpio${line}`, 'value'), 'utf8').trim());
  }
}

const reason = skipReason();

t.test('GPIO door: contact and REX from gpiomon, the lock driven by gpioset and read back', { skip: reason ?? false }, async (t) => {
  const log = new EventLog(':memory:');
  const bus = new EventBus(log);
  const events: Event[] = [];
  const sub = bus.events$.subscribe((e) => events.push(e));
  const lifetime = new Lifetime();
  let follow: Followers<Config> | undefined;
  const sim = SimChip.make();
  t.teardown(async () => {
    // The children let go of the lines first: a live chip with requested lines cannot be removed.
    await lifetime.close();
    await follow?.close();
    sub.unsubscribe();
    log.close();
    sim.remove();
  });
  // The door is closed and nobody presses the button before facegate starts.
  sim.pull(CONTACT, 0);
  sim.pull(REX, 0);
  const config = parseConfig({
    cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }],
    gates: [{ id: 'front', cameras: ['door'], door: { strikeMs: 1500, heldOpenMs: 60_000, failMode: 'secure', contact: { gpio: { chip: sim.chip, line: CONTACT } }, rex: { gpio: { chip: sim.chip, line: REX } }, lock: { gpio: { chip: sim.chip, line: LOCK } } } }],
  });
  follow = new Followers(new BehaviorSubject<Config>(config), (part, err) => t.fail(`${part}: ${String(err)}`));
  const doors = startServiceDoors(config, { bus, log: createLogger({ level: 'silent' }) }, follow, lifetime);
  await follow.settled();
  const types = (): string[] => events.filter((e) => e.type.startsWith('door.')).map((e) => e.type);

  // gpioget read the closed contact at start; the lock line is held at the locked level.
  await until('contact read at start', () => doors.state('front')?.contact === 'closed', 5000);
  await until('lock line held locked (0)', () => sim.value(LOCK) === 0, 5000);

  // Opened with no grant: forced open; closed again.
  sim.pull(CONTACT, 1);
  await until('door.forced_open', () => types().includes('door.forced_open'), 5000);
  t.match(events.find((e) => e.type === 'door.opened'), { data: { authorised: false } });
  sim.pull(CONTACT, 0);
  await until('door.closed after it', () => types().lastIndexOf('door.closed') > types().indexOf('door.forced_open'), 5000);

  // A grant releases: the line reads the released level (secure: energised) during the strike,
  // the locked level after it.
  bus.publish({ type: 'gate.granted', gateId: 'front', cameraId: 'door', trackId: 'door:1', identityId: 'alice-id', timeMs: Date.now(), data: { name: 'Alice', score: 0.7, masked: false } });
  await until('door.released', () => types().includes('door.released'), 5000);
  await until('lock line released (1)', () => sim.value(LOCK) === 1, 3000);
  sim.pull(CONTACT, 1);
  await until('authorised opening', () => events.some((e) => e.type === 'door.opened' && (e.data as { authorised: boolean }).authorised), 5000);
  sim.pull(CONTACT, 0);
  await until('door.locked after the strike', () => types().includes('door.locked'), 5000);
  await until('lock line locked again (0)', () => sim.value(LOCK) === 0, 5000);

  // The exit button: a press is door.rex (and a release of the lock).
  sim.pull(REX, 1);
  await until('door.rex', () => types().includes('door.rex'), 5000);
  sim.pull(REX, 0);
  t.notOk(events.some((e) => e.type === 'gate.actuation_failed' || e.type === 'door.lock_failed'), 'the lock took every command');
});


const toolsPresent = !spawnSync('gpiodetect', ['--version'], { encoding: 'utf8' }).error;

t.test('without the libgpiod tools a GPIO door fails the start with `apt install gpiod` and the alternatives', { skip: toolsPresent ? 'the libgpiod tools are installed here: the refusal cannot be seen' : false }, async (t) => {
  const base = { cameras: [{ id: 'door', url: 'rtsp://192.0.2.1:554/door' }] };
  const start = (door: Record<string, unknown>) => {
    const c = parseConfig({ ...base, gates: [{ id: 'front', cameras: ['door'], door }] });
    return () => startServiceDoors(c, { bus: new EventBus(new EventLog(':memory:')), log: createLogger({ level: 'silent' }) }, new Followers(new BehaviorSubject(c), () => {}), new Lifetime());
  };
  t.throws(start({ contact: { gpio: { chip: 'gpiochip0', line: 4 } } }), { code: 'DOOR_INPUT_UNSUPPORTED', message: /door\.contact from gpio cannot run: the libgpiod tools are not installed/, hint: /apt install gpiod.*mqtt: TOPIC/ });
  t.throws(start({ rex: { gpio: { chip: 'gpiochip0', line: 5, activeLow: true } } }), { code: 'DOOR_INPUT_UNSUPPORTED', message: /door\.rex from gpio/, hint: /apt install gpiod/ });
  t.throws(start({ lock: { gpio: { chip: 'gpiochip0', line: 6 } } }), { code: 'DOOR_INPUT_UNSUPPORTED', message: /door\.lock from gpio/, hint: /apt install gpiod.*lock\.relay/ });
  t.throws(start({ credentialOutput: { gpio: { chip: 'gpiochip0', d0: 7, d1: 8 } } }), { code: 'DOOR_INPUT_UNSUPPORTED', message: /door\.credentialOutput from gpio/, hint: /apt install gpiod/ });
});

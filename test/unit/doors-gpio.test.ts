/**
 * The GPIO door driver's pure parts (src/doors/gpio.ts): the libgpiod v1 tools' command lines,
 * gpiomon's output parsed into contact / REX readings, the lock levels by failMode and the
 * Wiegand frame as gpioset steps. The tools themselves run in test/integration/doors-gpio.test.ts
 * where a gpio-sim chip can be made.
 */
import t from 'tap';
import {
  checkGpiodVersion,
  DoorError,
  edgeIsFor,
  gpiogetArgv,
  gpioLockPlan,
  gpiomonArgv,
  gpioReading,
  gpiosetHoldArgv,
  gpiosetTimedArgv,
  lockLevels,
  parseGpiodVersion,
  parseGpioValue,
  parseGpiomonLine,
  wiegandBits,
  wiegandGpioSteps,
} from '../../src/doors/index.ts';
import { doorSchema } from '../../src/gates/config.ts';

const contact = { chip: 'gpiochip0', line: 17, activeLow: false };

t.test('version: v1.6 and later v1 are taken; v2 and older v1 refused with the version and a fix', async (t) => {
  t.same(parseGpiodVersion('gpiodetect (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\n'), { major: 1, minor: 6, patch: 3 });
  t.same(parseGpiodVersion('gpiodetect (libgpiod) v2.1'), { major: 2, minor: 1, patch: 0 });
  t.equal(parseGpiodVersion('command not found'), undefined);
  t.same(checkGpiodVersion('gpiodetect (libgpiod) v1.6.3'), { major: 1, minor: 6, patch: 3 });
  t.same(checkGpiodVersion('gpiodetect (libgpiod) v1.7.0'), { major: 1, minor: 7, patch: 0 });
  const v2 = (() => {
    try {
      checkGpiodVersion('gpiodetect (libgpiod) v2.1.3');
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(v2 instanceof DoorError);
  t.equal((v2 as DoorError).code, 'DOOR_INPUT_UNSUPPORTED');
  t.match((v2 as DoorError).message, /v2\.1\.3/);
  t.match((v2 as DoorError).hint, /bookworm/);
  t.throws(() => checkGpiodVersion('gpiodetect (libgpiod) v1.4.1'), { code: 'DOOR_INPUT_UNSUPPORTED', message: /1\.4\.1 are too old/ });
  t.throws(() => checkGpiodVersion('garbage'), { code: 'DOOR_INPUT_UNSUPPORTED', hint: /apt install gpiod/ });
});

t.test('monitoring a line: both edges, line-buffered, active-low passed on', async (t) => {
  t.same(gpiomonArgv(contact), ['gpiomon', '--line-buffered', '--format=%e %o %s %n', 'gpiochip0', '17']);
  const argv = gpiomonArgv({ ...contact, activeLow: true });
  t.ok(argv.includes('--active-low'));
  t.notOk(argv.some((a) => a === '--rising-edge' || a === '--falling-edge' || a === '-r' || a === '-f'), 'no edge filter: both edges');
  t.same(argv.slice(-2), ['gpiochip0', '17'], 'chip then offset last');
  t.same(gpiogetArgv({ chip: '/dev/gpiochip2', line: 4, activeLow: true }), ['gpioget', '--active-low', '/dev/gpiochip2', '4']);
  t.equal(parseGpioValue('1\n'), 1);
  t.equal(parseGpioValue('0'), 0);
  t.equal(parseGpioValue('2\n'), undefined);
  t.equal(parseGpioValue(''), undefined);
});

t.test("gpiomon's lines: the --format one and v1's default one; anything else a reason, never a throw", async (t) => {
  const f = parseGpiomonLine('1 17 1700000000 5000\n');
  t.same(f, { ok: true, edge: { rising: true, offset: 17, timestampNs: 1_700_000_000_000_005_000n } }, 'the nanoseconds are not zero-padded by %n');
  t.same(parseGpiomonLine('0 3 12 999999999'), { ok: true, edge: { rising: false, offset: 3, timestampNs: 12_999_999_999n } });
  const d = parseGpiomonLine('event:  RISING EDGE offset: 17 timestamp: [1700000000.000005000]');
  t.same(d, { ok: true, edge: { rising: true, offset: 17, timestampNs: 1_700_000_000_000_005_000n } });
  t.same(parseGpiomonLine('event: FALLING EDGE offset: 4 timestamp: [      12.500000000]'), { ok: true, edge: { rising: false, offset: 4, timestampNs: 12_500_000_000n } });
  for (const bad of ['', 'gpiomon: error waiting for events: Device or resource busy', '2 17 1 1', '1 17 1', 'event: SIDEWAYS EDGE offset: 1 timestamp: [1.0]', '1 -1 1 1']) {
    const r = parseGpiomonLine(bad);
    t.equal(r.ok, false, `refused: ${JSON.stringify(bad)}`);
    if (!r.ok) t.type(r.reason, 'string');
  }
});

t.test('edges to readings: contact follows the line, REX is a press on becoming active', async (t) => {
  const edge = (rising: boolean, offset = 17) => ({ rising, offset, timestampNs: 0n });
  t.same(gpioReading('contact', edge(true)), { kind: 'contact', open: true });
  t.same(gpioReading('contact', edge(false)), { kind: 'contact', open: false });
  t.same(gpioReading('rex', edge(true)), { kind: 'rex' });
  t.equal(gpioReading('rex', edge(false)), undefined, 'the button let go is nothing');
  t.ok(edgeIsFor(contact, edge(true, 17)));
  t.notOk(edgeIsFor(contact, edge(true, 18)));
});

t.test('the lock line by failMode: the relay polarity (secure energises to release, safe de-energises)', async (t) => {
  t.same(lockLevels('secure'), { released: 1, locked: 0 });
  t.same(lockLevels('safe'), { released: 0, locked: 1 });
  const lock = { chip: 'gpiochip0', line: 23, activeLow: false };
  t.same(gpioLockPlan('secure', { action: 'release', forMs: 5000 }, lock, 5000), {
    argv: ['gpioset', '--mode=time', '--sec=5', '--usec=0', 'gpiochip0', '23=1'],
    then: ['gpioset', '--mode=signal', 'gpiochip0', '23=0'],
  }, 'strike: energised for the strike, then held locked');
  t.same(gpioLockPlan('safe', { action: 'release', forMs: 5000 }, lock, 1234.5), {
    argv: ['gpioset', '--mode=time', '--sec=1', '--usec=234500', 'gpiochip0', '23=0'],
    then: ['gpioset', '--mode=signal', 'gpiochip0', '23=1'],
  }, 'maglock: de-energised for what is left of the strike, then held powered');
  t.same(gpioLockPlan('secure', { action: 'release', forMs: null }, lock, null), { argv: ['gpioset', '--mode=signal', 'gpiochip0', '23=1'], then: undefined }, 'open-ended: held released');
  t.same(gpioLockPlan('secure', { action: 'lock' }, lock, null), { argv: ['gpioset', '--mode=signal', 'gpiochip0', '23=0'], then: undefined });
  t.same(gpioLockPlan('safe', { action: 'lock' }, { ...lock, activeLow: true }, null), { argv: ['gpioset', '--mode=signal', '--active-low', 'gpiochip0', '23=1'], then: undefined }, 'active-low: the logical level, the tool inverts');
  const zero = gpioLockPlan('secure', { action: 'release', forMs: 5000 }, lock, 0);
  t.same(zero.argv.slice(1, 4), ['--mode=time', '--sec=0', '--usec=1000'], 'never a zero hold');
  t.same(gpiosetTimedArgv(lock, 1, 2_000_000).slice(2, 4), ['--sec=2000', '--usec=0']);
  t.same(gpiosetHoldArgv(lock, 0), ['gpioset', '--mode=signal', 'gpiochip0', '23=0']);
});

t.test('a Wiegand frame on D0 / D1: idle high, one low pulse per bit on its line, the interval after each', async (t) => {
  const out = { chip: 'gpiochip1', d0: 5, d1: 6 };
  const bits = wiegandBits('wiegand26', { facilityCode: 101, cardNumber: 4095 });
  const steps = wiegandGpioSteps(out, bits);
  const idle = ['gpioset', 'gpiochip1', '5=1', '6=1'];
  t.equal(steps.length, 1 + 2 * 26);
  t.same(steps[0], { argv: idle, waitMs: 2 }, 'both lines high first');
  // The Allegion 26A example frame, read back from the pulses: which line went low, in order.
  const sent = steps.filter((s) => s.argv.includes('--mode=time')).map((s) => (s.argv.at(-1) === '6=0' ? 1 : s.argv.at(-1) === '5=0' ? 0 : -1));
  t.equal(sent.join(''), '00110010100001111111111111');
  const pulse = steps[1];
  t.same(pulse, { argv: ['gpioset', '--mode=time', '--sec=0', '--usec=50', 'gpiochip1', '5=0'], waitMs: 0 }, 'a 50 us low pulse, no wait before lines go high again');
  t.same(steps[2], { argv: idle, waitMs: 2 }, 'then both high and the 2 ms interval');
  const slow = wiegandGpioSteps(out, [1], { pulseUs: 100, intervalMs: 20 });
  t.same(slow.map((s) => s.waitMs), [20, 0, 20]);
  t.same(slow[1].argv.slice(2, 4), ['--sec=0', '--usec=100']);
  t.throws(() => wiegandGpioSteps({ chip: 'gpiochip1', d0: 5, d1: 5 }, bits), { code: 'DOOR_INPUT_UNSUPPORTED' });
});

t.test('config: one GPIO line per door signal, D0 and D1 apart', async (t) => {
  const issues = (door: unknown) => {
    const r = doorSchema.safeParse(door);
    return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  };
  t.same(issues({ contact: { gpio: { chip: 'gpiochip0', line: 4 } }, rex: { gpio: { chip: 'gpiochip0', line: 5 } }, lock: { gpio: { chip: 'gpiochip0', line: 6 } }, credentialOutput: { gpio: { chip: 'gpiochip0', d0: 7, d1: 8 } } }), [], 'five lines, all apart');
  t.same(issues({ contact: { gpio: { chip: 'gpiochip0', line: 4 } }, rex: { gpio: { chip: 'gpiochip1', line: 4 } } }), [], 'the same offset on another chip is another line');
  t.same(issues({ contact: { gpio: { chip: 'gpiochip0', line: 4 } }, lock: { gpio: { chip: '/dev/gpiochip0', line: 4 } } }), [{ path: 'lock.gpio.line', message: 'GPIO /dev/gpiochip0 line 4 is already used by contact.gpio.line' }], 'a chip named by path is the same chip');
  t.same(issues({ rex: { gpio: { chip: 'gpiochip0', line: 9 } }, credentialOutput: { gpio: { chip: 'gpiochip0', d0: 9, d1: 10 } } }), [{ path: 'credentialOutput.gpio.d0', message: 'GPIO gpiochip0 line 9 is already used by rex.gpio.line' }]);
  const same = issues({ credentialOutput: { gpio: { chip: 'gpiochip0', d0: 3, d1: 3 } } });
  t.same(same.map((i) => i.path), ['credentialOutput.gpio.d1'], 'reported once, at d1');
  t.match(same[0].message, /D0 and D1 lines are the same line/);
});

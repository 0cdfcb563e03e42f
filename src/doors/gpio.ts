/**
 * Door I/O on Linux GPIO through the character device, driven by Debian's libgpiod tools
 * (package `gpiod`) as child processes: no native binding to build, and the tools are what an
 * installer already uses to check the wiring (`gpiodetect`, `gpioinfo`, `gpioget`).
 *
 * Pure: the argv of each tool run and the parsers of what the tools print. The service part
 * (src/app/doors.ts) spawns them.
 *
 * The tools are libgpiod v1 (Debian bookworm ships 1.6.3): `gpiomon [OPTIONS] <chip> <offset>...`,
 * `gpioset [OPTIONS] <chip> <offset>=<value>...`, `gpioget [OPTIONS] <chip> <offset>...`. libgpiod
 * v2 (Debian trixie) changed every command line (`--chip`, `--edges`, gpioset holding the line
 * until killed, other --format specifiers), so v2 is refused at start with the fix rather than
 * run with arguments it reads differently.
 *
 * Line values are logical: with `activeLow` the tools get `--active-low`, so 1 is always "active"
 * (contact open, button pressed, lock coil energised) whatever the wiring.
 */
import type { Bit } from './wiegand.ts';
import type { LockCommand } from './machine.ts';
import { DoorError } from './errors.ts';

export interface GpioLine {
  /** `gpiochip0` or `/dev/gpiochip0`: both are taken by the v1 tools. */
  readonly chip: string;
  readonly line: number;
  readonly activeLow?: boolean | undefined;
}

export interface GpiodVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** The install line for the tools, named in every refusal. */
export const GPIOD_INSTALL_HINT = 'install the libgpiod tools: `sudo apt install gpiod` (Debian bookworm: libgpiod 1.6), then check the chip and line with `gpiodetect` and `gpioinfo`';

/** `gpiodetect (libgpiod) v1.6.3` (v1 and v2 print the same first line) -> the version. */
export function parseGpiodVersion(text: string): GpiodVersion | undefined {
  const m = /\(libgpiod\)\s+v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

/**
 * The tools' version, checked: v1.6 and later v1 releases are what the argv below is written
 * for (from v1.6's gpiomon/gpioset/gpioget sources). Throws DOOR_INPUT_UNSUPPORTED naming the
 * version found and the fix.
 */
export function checkGpiodVersion(text: string): GpiodVersion {
  const v = parseGpiodVersion(text);
  if (!v) {
    throw new DoorError('DOOR_INPUT_UNSUPPORTED', `the libgpiod tools' version could not be read (gpiodetect --version said: ${JSON.stringify(text.slice(0, 120))})`, { hint: GPIOD_INSTALL_HINT });
  }
  const shown = `${v.major}.${v.minor}.${v.patch}`;
  if (v.major >= 2) {
    throw new DoorError('DOOR_INPUT_UNSUPPORTED', `libgpiod tools v${shown} are installed; the door GPIO driver speaks the v1 tools (v1.6, Debian bookworm), whose command lines v2 changed`, {
      context: { version: shown },
      hint: 'run on Debian bookworm (or install libgpiod 1.6 tools), or wire the door through MQTT, the signed webhook or a relay until v2 is supported',
    });
  }
  if (v.major < 1 || v.minor < 6) {
    throw new DoorError('DOOR_INPUT_UNSUPPORTED', `libgpiod tools v${shown} are too old: the door GPIO driver needs v1.6 or a later v1`, { context: { version: shown }, hint: GPIOD_INSTALL_HINT });
  }
  return v;
}

const activeLowArg = (l: GpioLine): string[] => (l.activeLow ? ['--active-low'] : []);

/**
 * The --format of gpiomon: `<edge> <offset> <seconds> <nanoseconds>`, edge 1 rising / 0 falling
 * (v1's `%e`). Numbers only, so a line is read by one anchored pattern.
 */
export const GPIOMON_FORMAT = '%e %o %s %n';

/**
 * Watching one input line: both edges (neither --rising-edge nor --falling-edge), line-buffered
 * so each event reaches the pipe at once (stdout to a pipe is block-buffered otherwise), active
 * low honoured (v1 flips the edges with it, so rising is always "became active").
 */
export function gpiomonArgv(l: GpioLine): string[] {
  return ['gpiomon', '--line-buffered', `--format=${GPIOMON_FORMAT}`, ...activeLowArg(l), l.chip, String(l.line)];
}

/** Reading one line once (the contact's state before gpiomon takes the line). Prints `0` or `1`. */
export function gpiogetArgv(l: GpioLine): string[] {
  return ['gpioget', ...activeLowArg(l), l.chip, String(l.line)];
}

/** gpioget's output -> the logical value, undefined for anything else. */
export function parseGpioValue(stdout: string): 0 | 1 | undefined {
  const t = stdout.trim();
  return t === '0' ? 0 : t === '1' ? 1 : undefined;
}

export interface GpioEdge {
  /** The line became active (logical 1). */
  readonly rising: boolean;
  readonly offset: number;
  /** The kernel's event timestamp (v1: CLOCK_REALTIME on older kernels, CLOCK_MONOTONIC on newer: not a wall clock to trust). */
  readonly timestampNs: bigint;
}

export type GpiomonLine = { readonly ok: true; readonly edge: GpioEdge } | { readonly ok: false; readonly reason: string };

const FORMATTED = /^([01]) (\d+) (\d+) (\d+)$/;
/** v1's default output: `event:  RISING EDGE offset: 17 timestamp: [1700000000.123456789]`. */
const DEFAULT_V1 = /^event:\s+(RISING|FALLING) EDGE offset: (\d+) timestamp: \[\s*(\d+)\.(\d+)\]$/;

/**
 * One line of gpiomon's output -> an edge. Both the --format above and v1's default format are
 * read; anything else is a reason (the caller logs it), never a throw.
 */
export function parseGpiomonLine(text: string): GpiomonLine {
  const line = text.trim();
  let m = FORMATTED.exec(line);
  if (m) return { ok: true, edge: { rising: m[1] === '1', offset: Number(m[2]), timestampNs: BigInt(m[3]) * 1_000_000_000n + BigInt(m[4]) } };
  m = DEFAULT_V1.exec(line);
  if (m) {
    // The default format zero-pads the nanoseconds to 9 digits; the custom one does not.
    return { ok: true, edge: { rising: m[1] === 'RISING', offset: Number(m[2]), timestampNs: BigInt(m[3]) * 1_000_000_000n + BigInt(m[4].padEnd(9, '0').slice(0, 9)) } };
  }
  return { ok: false, reason: line.length === 0 ? 'an empty line' : `not a gpiomon event: ${JSON.stringify(line.slice(0, 80))}` };
}

export type GpioReading = { readonly kind: 'contact'; readonly open: boolean } | { readonly kind: 'rex' };

/**
 * An edge of a door input -> what the door machine takes: the contact follows the line (active =
 * open); the REX is a press when the line becomes active, its release is nothing.
 */
export function gpioReading(input: 'contact' | 'rex', edge: GpioEdge): GpioReading | undefined {
  if (input === 'contact') return { kind: 'contact', open: edge.rising };
  return edge.rising ? { kind: 'rex' } : undefined;
}

/** An edge on an offset that is not the watched line (a misread or a tool bug) is refused by the caller. */
export function edgeIsFor(l: GpioLine, edge: GpioEdge): boolean {
  return edge.offset === l.line;
}

/**
 * The logical line levels of the lock by failMode, as the relay's polarity (src/doors/relay.ts):
 * `secure` (a strike, locked without power) is released by energising (1); `safe` (a maglock,
 * open without power) by de-energising (0).
 */
export function lockLevels(failMode: 'secure' | 'safe'): { readonly released: 0 | 1; readonly locked: 0 | 1 } {
  return failMode === 'secure' ? { released: 1, locked: 0 } : { released: 0, locked: 1 };
}

/** Set the line and hold it until SIGTERM / SIGINT (v1 `--mode=signal`): the line stays ours. */
export function gpiosetHoldArgv(l: GpioLine, value: 0 | 1): string[] {
  return ['gpioset', '--mode=signal', ...activeLowArg(l), l.chip, `${l.line}=${value}`];
}

/**
 * Set the line, hold it for `ms`, then exit (v1 `--mode=time`, seconds and microseconds apart:
 * v1 sleeps `--sec` then `--usec`, so the microseconds stay under a second).
 */
export function gpiosetTimedArgv(l: GpioLine, value: 0 | 1, ms: number): string[] {
  const us = Math.max(1, Math.round(ms * 1000));
  const sec = Math.floor(us / 1_000_000);
  return ['gpioset', '--mode=time', `--sec=${sec}`, `--usec=${us % 1_000_000}`, ...activeLowArg(l), l.chip, `${l.line}=${value}`];
}

/** Set the lines and exit at once (v1 `--mode=exit`, the default). */
export function gpiosetOnceArgv(chip: string, values: ReadonlyArray<readonly [line: number, value: 0 | 1]>): string[] {
  return ['gpioset', chip, ...values.map(([line, v]) => `${line}=${v}`)];
}

/**
 * What a lock command does to the lock line: `argv` runs now; when it exits normally `then`
 * runs (and holds the line) next.
 * - a release for a known time: the released level for that time, then the locked level held;
 * - an open-ended release (a mode, a hold-open without end): the released level held until the
 *   next command;
 * - lock: the locked level held.
 * Unlike the relay there is no timer outside facegate: a v1 gpioset that exits leaves the line as
 * the board's driver leaves a line nobody holds (undefined by the kernel: the last value or a default).
 */
export interface GpioLockPlan {
  readonly argv: string[];
  readonly then: string[] | undefined;
}

export function gpioLockPlan(failMode: 'secure' | 'safe', command: LockCommand, l: GpioLine, remainingMs: number | null): GpioLockPlan {
  const levels = lockLevels(failMode);
  if (command.action === 'lock') return { argv: gpiosetHoldArgv(l, levels.locked), then: undefined };
  if (remainingMs === null) return { argv: gpiosetHoldArgv(l, levels.released), then: undefined };
  return { argv: gpiosetTimedArgv(l, levels.released, Math.max(1, remainingMs)), then: gpiosetHoldArgv(l, levels.locked) };
}

/**
 * Wiegand timing. The SIA access-control standard for the 26-bit Wiegand reader interface allows
 * a pulse width of 20-100 us and a pulse interval of 200 us - 20 ms; readers' datasheets give
 * 50 us pulses 2 ms apart as typical. From child processes the interval is at least one process
 * start (about a millisecond or more), which fits; the pulse ends when the next gpioset sets the
 * line high again, so it lasts about one process start too: longer than the standard's 100 us.
 * Best effort for panels that only time the falling edge; an adapter (credentialOutput mqtt or
 * command) is the way to meet the timing.
 */
export interface WiegandTiming {
  readonly pulseUs: number;
  readonly intervalMs: number;
}

export const WIEGAND_TIMING: WiegandTiming = { pulseUs: 50, intervalMs: 2 };

export interface GpioStep {
  readonly argv: string[];
  /** Wait this long after the run exits before the next step. */
  readonly waitMs: number;
}

/**
 * A Wiegand frame clocked out on D0 / D1: both lines idle high; a 0 bit is a low pulse on D0, a
 * 1 bit on D1, never both at once. Each pulse is a timed gpioset (low for pulseUs) and then one
 * gpioset that sets both lines high again, then the interval.
 */
export function wiegandGpioSteps(out: { readonly chip: string; readonly d0: number; readonly d1: number }, bits: readonly Bit[], timing: WiegandTiming = WIEGAND_TIMING): GpioStep[] {
  if (out.d0 === out.d1) throw new DoorError('DOOR_INPUT_UNSUPPORTED', `the Wiegand D0 and D1 lines are the same line (${out.d0})`, { hint: 'give D0 and D1 their own GPIO lines' });
  const idle = gpiosetOnceArgv(out.chip, [[out.d0, 1], [out.d1, 1]]);
  const steps: GpioStep[] = [{ argv: idle, waitMs: timing.intervalMs }];
  const pulseMs = timing.pulseUs / 1000;
  for (const bit of bits) {
    const line = bit === 1 ? out.d1 : out.d0;
    steps.push({ argv: gpiosetTimedArgv({ chip: out.chip, line }, 0, pulseMs), waitMs: 0 });
    steps.push({ argv: idle, waitMs: timing.intervalMs });
  }
  return steps;
}

/** The tool a step runs and its arguments, for execFile. */
export function splitArgv(argv: readonly string[]): { program: string; args: string[] } {
  return { program: argv[0], args: argv.slice(1) };
}

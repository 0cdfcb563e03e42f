/**
 * Weekly opening schedules evaluated on the gate's local wall clock (IANA time zone, via
 * Intl.DateTimeFormat; no tz library). Pure: the instant is a parameter.
 *
 * Semantics (wall-clock, which is what people write on a door sign):
 * - A weekly window `{ days, start, end }` is open from `start` (inclusive) to `end` (exclusive)
 *   local time on each listed day. `end` may be `24:00`. When `end <= start` the window crosses
 *   midnight: it opens at `start` on a listed day and closes at `end` on the following day, so
 *   `days` always names the day the window *starts*.
 * - An exception for a local date replaces the weekly schedule for every local instant that falls
 *   on that date: `closed: true` shuts the whole date (including the after-midnight tail of a
 *   window that started the evening before), `windows` opens only those same-day windows. A
 *   weekly window that would have started on an exception date does not start, so its
 *   after-midnight tail on the next date does not open either.
 * - DST: a window is open whenever the local clock reads a time inside it. On spring-forward
 *   (Europe/Berlin 2026-03-29 02:00 -> 03:00) the skipped hour never shows, so a window starting at
 *   02:30 opens at 03:00; on fall-back (2026-10-25 03:00 -> 02:00) the repeated hour shows twice,
 *   so a window over 02:00-03:00 is open for both passes of it.
 * - Precision is one second (milliseconds are ignored): 16:59:59.999 is inside 08:00-17:00.
 */
import { GateError } from './errors.ts';

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** getUTCDay() order (0 = Sunday). */
const BY_UTC_DAY: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export interface TimeWindow {
  /** HH:MM, 00:00-23:59. */
  readonly start: string;
  /** HH:MM, 00:00-24:00. */
  readonly end: string;
}

export interface WeeklyWindow extends TimeWindow {
  readonly days: readonly Weekday[];
}

export interface ScheduleException {
  /** Local calendar date in the schedule's time zone, YYYY-MM-DD. */
  readonly date: string;
  readonly closed?: boolean | undefined;
  /** Same-day windows (end > start) that replace the weekly schedule on this date. */
  readonly windows?: readonly TimeWindow[] | undefined;
}

export interface Schedule {
  readonly timeZone: string;
  readonly weekly: readonly WeeklyWindow[];
  readonly exceptions?: readonly ScheduleException[] | undefined;
}

/** The wall clock of a time zone at one instant. */
export interface LocalTime {
  /** YYYY-MM-DD */
  readonly date: string;
  readonly weekday: Weekday;
  /** Seconds since local midnight, 0..86399. */
  readonly secondOfDay: number;
  /** The local date before `date`, and its weekday (for windows that crossed midnight). */
  readonly previousDate: string;
  readonly previousWeekday: Weekday;
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/;

/** Minutes since midnight of `HH:MM` (24:00 = 1440). Throws RangeError on anything else. */
export function parseHhmm(s: string): number {
  if (!HHMM.test(s)) throw new RangeError(`not a HH:MM time: '${s}'`);
  const [h, m] = s.split(':');
  return Number(h) * 60 + Number(m);
}

export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone.length === 0) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Memo of formatters: constructing one costs far more than formatting with it. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f) return f;
  try {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
  } catch (e) {
    throw timeZoneError(timeZone, e);
  }
  formatters.set(timeZone, f);
  return f;
}

export function timeZoneError(timeZone: string, cause?: unknown): GateError {
  return new GateError('GATE_TIME_ZONE_INVALID', `unknown time zone '${timeZone}'`, {
    context: { timeZone },
    hint: "use an IANA time zone name such as 'Europe/Berlin', 'America/New_York' or 'UTC' (the list: Intl.supportedValuesOf('timeZone'))",
    cause,
  });
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

function isoDate(y: number, m: number, d: number): { date: string; weekday: Weekday } {
  const t = Date.UTC(y, m - 1, d);
  const dt = new Date(t);
  return {
    date: `${String(dt.getUTCFullYear()).padStart(4, '0')}-${pad2(dt.getUTCMonth() + 1)}-${pad2(dt.getUTCDate())}`,
    weekday: BY_UTC_DAY[dt.getUTCDay()],
  };
}

/** The local wall clock of `timeZone` at `timeMs`. Throws GateError for an unknown zone. */
export function localTime(timeMs: number, timeZone: string): LocalTime {
  if (!Number.isFinite(timeMs)) throw new RangeError(`timeMs must be finite, got ${timeMs}`);
  const parts = formatterFor(timeZone).formatToParts(new Date(timeMs));
  let y = 0;
  let mo = 0;
  let d = 0;
  let h = 0;
  let mi = 0;
  let s = 0;
  for (const p of parts) {
    if (p.type === 'year') y = Number(p.value);
    else if (p.type === 'month') mo = Number(p.value);
    else if (p.type === 'day') d = Number(p.value);
    else if (p.type === 'hour') h = Number(p.value) % 24;
    else if (p.type === 'minute') mi = Number(p.value);
    else if (p.type === 'second') s = Number(p.value);
  }
  const today = isoDate(y, mo, d);
  const yesterday = isoDate(y, mo, d - 1);
  return { date: today.date, weekday: today.weekday, secondOfDay: h * 3600 + mi * 60 + s, previousDate: yesterday.date, previousWeekday: yesterday.weekday };
}

/** Is a same-day or crossing window open at `sec` seconds past midnight of the day it started? */
function inStartDay(w: TimeWindow, sec: number): boolean {
  const start = parseHhmm(w.start) * 60;
  const end = parseHhmm(w.end) * 60;
  return end > start ? sec >= start && sec < end : sec >= start;
}

/** The after-midnight tail of a crossing window, on the day after it started. */
function inNextDay(w: TimeWindow, sec: number): boolean {
  const start = parseHhmm(w.start) * 60;
  const end = parseHhmm(w.end) * 60;
  return end <= start && sec < end;
}

/**
 * Is the schedule open at `timeMs`? No schedule means always open. Throws GateError
 * (GATE_TIME_ZONE_INVALID) when the time zone is unknown.
 */
export function scheduleOpen(schedule: Schedule | undefined, timeMs: number): boolean {
  if (!schedule) return true;
  const local = localTime(timeMs, schedule.timeZone);
  const exception = schedule.exceptions?.find((e) => e.date === local.date);
  if (exception) {
    if (exception.closed) return false;
    return (exception.windows ?? []).some((w) => inStartDay(w, local.secondOfDay));
  }
  // A window that started yesterday only exists if yesterday ran on the weekly schedule.
  const yesterdayWeekly = !schedule.exceptions?.some((e) => e.date === local.previousDate);
  for (const w of schedule.weekly) {
    if (w.days.includes(local.weekday) && inStartDay(w, local.secondOfDay)) return true;
    if (yesterdayWeekly && w.days.includes(local.previousWeekday) && inNextDay(w, local.secondOfDay)) return true;
  }
  return false;
}

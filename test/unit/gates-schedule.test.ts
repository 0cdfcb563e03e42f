import t from 'tap';
import { GateError, isValidTimeZone, localTime, parseGates, scheduleOpen, type Schedule, type Weekday } from '../../src/gates/index.ts';
import { mulberry32 } from '../../src/lib/random.ts';

const at = (iso: string): number => {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new Error(`bad iso ${iso}`);
  return ms;
};

/** Real minutes (1-minute samples) the schedule is open in [fromIso, toIso). */
function minutesOpen(s: Schedule, fromIso: string, toIso: string): number {
  let n = 0;
  for (let ms = at(fromIso); ms < at(toIso); ms += 60_000) if (scheduleOpen(s, ms)) n++;
  return n;
}

const sched = (timeZone: string, weekly: Schedule['weekly'], exceptions: Schedule['exceptions'] = []): Schedule => ({ timeZone, weekly, exceptions });
const ALL: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

t.test('localTime: UTC, Berlin winter/summer, New York, date and weekday roll-over', async (t) => {
  t.match(localTime(at('2026-01-05T00:00:00Z'), 'UTC'), { date: '2026-01-05', weekday: 'mon', secondOfDay: 0, previousDate: '2026-01-04', previousWeekday: 'sun' });
  t.match(localTime(at('2026-01-05T23:30:00Z'), 'Europe/Berlin'), { date: '2026-01-06', weekday: 'tue', secondOfDay: 30 * 60 });
  t.match(localTime(at('2026-07-01T12:00:00Z'), 'Europe/Berlin'), { date: '2026-07-01', secondOfDay: 14 * 3600 });
  t.match(localTime(at('2026-01-15T03:00:00Z'), 'America/New_York'), { date: '2026-01-14', weekday: 'wed', secondOfDay: 22 * 3600 });
  t.match(localTime(at('2026-07-15T03:00:00Z'), 'America/New_York'), { date: '2026-07-14', secondOfDay: 23 * 3600 });
  t.match(localTime(at('2026-03-01T00:00:00Z'), 'UTC'), { previousDate: '2026-02-28', previousWeekday: 'sat' });
  t.match(localTime(at('2024-03-01T00:00:00Z'), 'UTC'), { previousDate: '2024-02-29' }, 'leap year');
  t.match(localTime(at('2027-01-01T00:00:00Z'), 'UTC'), { previousDate: '2026-12-31', weekday: 'fri' });
  t.equal(localTime(at('2026-01-05T00:00:00.999Z'), 'UTC').secondOfDay, 0, 'milliseconds ignored');
  t.equal(localTime(at('2026-01-05T00:00:00Z'), 'UTC').secondOfDay, 0, 'midnight is 00, never 24');
});

t.test('no schedule: always open', async (t) => {
  t.ok(scheduleOpen(undefined, 0));
  t.ok(scheduleOpen(undefined, at('2026-03-29T01:30:00Z')));
});

t.test('same-day window: start inclusive, end exclusive, days respected', async (t) => {
  const s = sched('UTC', [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '17:00' }]);
  t.notOk(scheduleOpen(s, at('2026-01-05T07:59:59Z')), 'mon 07:59:59');
  t.ok(scheduleOpen(s, at('2026-01-05T08:00:00Z')), 'mon 08:00');
  t.ok(scheduleOpen(s, at('2026-01-05T16:59:59.999Z')), 'mon 16:59:59.999');
  t.notOk(scheduleOpen(s, at('2026-01-05T17:00:00Z')), 'mon 17:00');
  t.notOk(scheduleOpen(s, at('2026-01-10T12:00:00Z')), 'sat noon');
  t.notOk(scheduleOpen(s, at('2026-01-11T12:00:00Z')), 'sun noon');
  t.equal(minutesOpen(s, '2026-01-05T00:00:00Z', '2026-01-12T00:00:00Z'), 5 * 9 * 60, '45 h a week');
});

t.test('whole day 00:00-24:00 and end 24:00', async (t) => {
  const s = sched('Europe/Berlin', [{ days: ['sat'], start: '00:00', end: '24:00' }, { days: ['mon'], start: '20:00', end: '24:00' }]);
  t.equal(minutesOpen(s, '2026-01-09T23:00:00Z', '2026-01-10T23:00:00Z'), 24 * 60, 'Saturday (Berlin) entirely');
  t.ok(scheduleOpen(s, at('2026-01-05T22:59:59Z')), 'mon 23:59:59 local');
  t.notOk(scheduleOpen(s, at('2026-01-05T23:00:00Z')), 'tue 00:00 local');
});

t.test('windows crossing midnight belong to the day they start', async (t) => {
  const s = sched('UTC', [{ days: ['fri'], start: '22:00', end: '06:00' }]);
  t.notOk(scheduleOpen(s, at('2026-01-09T21:59:59Z')), 'fri 21:59:59');
  t.ok(scheduleOpen(s, at('2026-01-09T22:00:00Z')), 'fri 22:00');
  t.ok(scheduleOpen(s, at('2026-01-09T23:59:59Z')), 'fri 23:59:59');
  t.ok(scheduleOpen(s, at('2026-01-10T00:00:00Z')), 'sat 00:00');
  t.ok(scheduleOpen(s, at('2026-01-10T05:59:59Z')), 'sat 05:59:59');
  t.notOk(scheduleOpen(s, at('2026-01-10T06:00:00Z')), 'sat 06:00');
  t.notOk(scheduleOpen(s, at('2026-01-10T22:30:00Z')), 'sat 22:30: saturday not listed');
  t.notOk(scheduleOpen(s, at('2026-01-09T03:00:00Z')), 'fri 03:00: thursday not listed');
  t.equal(minutesOpen(s, '2026-01-05T00:00:00Z', '2026-01-12T00:00:00Z'), 8 * 60);
  const sunday = sched('UTC', [{ days: ['sun'], start: '23:00', end: '01:00' }]);
  t.ok(scheduleOpen(sunday, at('2026-01-12T00:30:00Z')), 'sun->mon wraps the week');
  const adjacent = sched('UTC', [{ days: ALL, start: '18:00', end: '09:00' }]);
  t.equal(minutesOpen(adjacent, '2026-01-05T00:00:00Z', '2026-01-06T00:00:00Z'), 15 * 60, 'night shift every day: 9h tail + 6h evening');
});

t.test('Europe/Berlin spring-forward 2026-03-29 (02:00 CET -> 03:00 CEST at 01:00Z)', async (t) => {
  const inGap = sched('Europe/Berlin', [{ days: ['sun'], start: '02:30', end: '03:30' }]);
  t.notOk(scheduleOpen(inGap, at('2026-03-29T00:59:59Z')), '01:59:59 CET');
  t.ok(scheduleOpen(inGap, at('2026-03-29T01:00:00Z')), 'the clock jumps to 03:00 CEST, inside the window');
  t.ok(scheduleOpen(inGap, at('2026-03-29T01:29:59Z')), '03:29:59 CEST');
  t.notOk(scheduleOpen(inGap, at('2026-03-29T01:30:00Z')), '03:30 CEST');
  t.equal(minutesOpen(inGap, '2026-03-28T22:00:00Z', '2026-03-29T22:00:00Z'), 30, 'the nominal hour lasts 30 real minutes');
  const wholeGap = sched('Europe/Berlin', [{ days: ['sun'], start: '02:00', end: '03:00' }]);
  t.equal(minutesOpen(wholeGap, '2026-03-28T22:00:00Z', '2026-03-29T22:00:00Z'), 0, 'a window inside the skipped hour never opens');
  const across = sched('Europe/Berlin', [{ days: ['sun'], start: '01:00', end: '04:00' }]);
  t.equal(minutesOpen(across, '2026-03-28T22:00:00Z', '2026-03-29T22:00:00Z'), 120, '01:00-04:00 lasts 2 real hours');
  const night = sched('Europe/Berlin', [{ days: ['sat'], start: '22:00', end: '06:00' }]);
  t.equal(minutesOpen(night, '2026-03-28T12:00:00Z', '2026-03-29T12:00:00Z'), 7 * 60, 'sat 22:00 -> sun 06:00 lasts 7 h');
  t.ok(scheduleOpen(night, at('2026-03-29T03:59:59Z')), '05:59:59 CEST');
  t.notOk(scheduleOpen(night, at('2026-03-29T04:00:00Z')), '06:00 CEST = 04:00Z');
});

t.test('Europe/Berlin office hours shift by one UTC hour across both transitions', async (t) => {
  const office = sched('Europe/Berlin', [{ days: ALL, start: '08:00', end: '17:00' }]);
  t.notOk(scheduleOpen(office, at('2026-03-28T06:59:59Z')), 'sat before: 07:59:59 CET');
  t.ok(scheduleOpen(office, at('2026-03-28T07:00:00Z')), 'sat before: 08:00 CET = 07:00Z');
  t.notOk(scheduleOpen(office, at('2026-03-29T05:59:59Z')), 'sun: 07:59:59 CEST');
  t.ok(scheduleOpen(office, at('2026-03-29T06:00:00Z')), 'sun: 08:00 CEST = 06:00Z');
  t.ok(scheduleOpen(office, at('2026-10-25T07:00:00Z')), 'fall-back day: 07:00Z = 08:00 CET');
  t.notOk(scheduleOpen(office, at('2026-10-25T06:59:59Z')), 'fall-back day: 06:59:59Z = 07:59:59 CET');
  t.ok(scheduleOpen(office, at('2026-10-24T06:00:00Z')), 'sat before fall-back: 08:00 CEST = 06:00Z');
  t.equal(minutesOpen(office, '2026-03-28T22:00:00Z', '2026-03-29T22:00:00Z'), 9 * 60);
  t.equal(minutesOpen(office, '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'), 9 * 60);
});

t.test('Europe/Berlin fall-back 2026-10-25 (03:00 CEST -> 02:00 CET at 01:00Z): the repeated hour counts twice', async (t) => {
  const repeated = sched('Europe/Berlin', [{ days: ['sun'], start: '02:00', end: '03:00' }]);
  t.notOk(scheduleOpen(repeated, at('2026-10-24T23:59:59Z')), '01:59:59 CEST');
  t.ok(scheduleOpen(repeated, at('2026-10-25T00:00:00Z')), '02:00 CEST (first pass)');
  t.ok(scheduleOpen(repeated, at('2026-10-25T00:59:59Z')), '02:59:59 CEST');
  t.ok(scheduleOpen(repeated, at('2026-10-25T01:00:00Z')), '02:00 CET (second pass)');
  t.ok(scheduleOpen(repeated, at('2026-10-25T01:59:59Z')), '02:59:59 CET');
  t.notOk(scheduleOpen(repeated, at('2026-10-25T02:00:00Z')), '03:00 CET');
  t.equal(minutesOpen(repeated, '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'), 120);
  const half = sched('Europe/Berlin', [{ days: ['sun'], start: '02:30', end: '03:00' }]);
  t.equal(minutesOpen(half, '2026-10-24T22:00:00Z', '2026-10-25T23:00:00Z'), 60, '02:30-03:00 twice');
  const night = sched('Europe/Berlin', [{ days: ['sat'], start: '22:00', end: '06:00' }]);
  t.equal(minutesOpen(night, '2026-10-24T12:00:00Z', '2026-10-25T12:00:00Z'), 9 * 60, 'sat 22:00 -> sun 06:00 lasts 9 h');
  t.ok(scheduleOpen(night, at('2026-10-25T04:59:59Z')), '05:59:59 CET');
  t.notOk(scheduleOpen(night, at('2026-10-25T05:00:00Z')), '06:00 CET');
});

t.test('America/New_York: DST 2026-03-08 (02:00 EST -> 03:00 EDT) and 2026-11-01 (02:00 EDT -> 01:00 EST)', async (t) => {
  const gap = sched('America/New_York', [{ days: ['sun'], start: '02:00', end: '03:00' }]);
  t.equal(minutesOpen(gap, '2026-03-08T05:00:00Z', '2026-03-09T05:00:00Z'), 0, 'skipped hour never opens');
  const repeated = sched('America/New_York', [{ days: ['sun'], start: '01:00', end: '02:00' }]);
  t.equal(minutesOpen(repeated, '2026-11-01T04:00:00Z', '2026-11-02T05:00:00Z'), 120, 'repeated hour opens twice');
  t.ok(scheduleOpen(repeated, at('2026-11-01T05:30:00Z')), '01:30 EDT');
  t.ok(scheduleOpen(repeated, at('2026-11-01T06:30:00Z')), '01:30 EST');
  t.notOk(scheduleOpen(repeated, at('2026-11-01T07:00:00Z')), '02:00 EST');
  const office = sched('America/New_York', [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '17:00' }]);
  t.notOk(scheduleOpen(office, at('2026-01-14T13:59:59Z')), 'winter: 08:59:59 EST');
  t.ok(scheduleOpen(office, at('2026-01-14T14:00:00Z')), 'winter: 09:00 EST = 14:00Z');
  t.ok(scheduleOpen(office, at('2026-07-15T13:00:00Z')), 'summer: 09:00 EDT = 13:00Z');
  t.notOk(scheduleOpen(office, at('2026-07-15T21:00:00Z')), 'summer: 17:00 EDT');
  t.ok(scheduleOpen(office, at('2026-03-09T13:00:00Z')), 'monday after spring-forward: 09:00 EDT');
  t.ok(scheduleOpen(office, at('2026-11-02T14:00:00Z')), 'monday after fall-back: 09:00 EST');
  t.notOk(scheduleOpen(office, at('2026-11-02T13:30:00Z')), 'monday after fall-back: 08:30 EST');
  const night = sched('America/New_York', [{ days: ['sat'], start: '23:00', end: '04:00' }]);
  t.equal(minutesOpen(night, '2026-03-07T12:00:00Z', '2026-03-08T12:00:00Z'), 4 * 60, 'across spring-forward: 4 h');
  t.equal(minutesOpen(night, '2026-10-31T12:00:00Z', '2026-11-01T12:00:00Z'), 6 * 60, 'across fall-back: 6 h');
});

t.test('exceptions: closed holidays, special windows, and their effect on windows crossing midnight', async (t) => {
  const s = sched(
    'Europe/Berlin',
    [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '17:00' },
      { days: ['thu'], start: '22:00', end: '02:00' },
    ],
    [
      { date: '2026-12-25', closed: true },
      { date: '2026-12-24', windows: [{ start: '08:00', end: '12:00' }] },
      { date: '2026-12-27', windows: [{ start: '10:00', end: '11:00' }, { start: '15:00', end: '16:00' }] },
    ],
  );
  t.ok(scheduleOpen(s, at('2026-12-23T12:00:00Z')), 'wed 23rd normal');
  t.ok(scheduleOpen(s, at('2026-12-24T10:59:59Z')), 'thu 24th 11:59:59 special window');
  t.notOk(scheduleOpen(s, at('2026-12-24T11:00:00Z')), 'thu 24th 12:00 closes early');
  t.notOk(scheduleOpen(s, at('2026-12-24T14:00:00Z')), 'thu 24th 15:00 although a weekday');
  t.notOk(scheduleOpen(s, at('2026-12-24T22:00:00Z')), 'thu 24th 23:00: the thursday night window does not start on an exception date');
  t.notOk(scheduleOpen(s, at('2026-12-25T00:30:00Z')), 'fri 25th 01:30: so its tail does not open either');
  t.notOk(scheduleOpen(s, at('2026-12-25T10:00:00Z')), 'fri 25th closed holiday');
  t.equal(minutesOpen(s, '2026-12-24T23:00:00Z', '2026-12-25T23:00:00Z'), 0, 'the whole holiday');
  t.ok(scheduleOpen(s, at('2026-12-27T09:30:00Z')), 'sun 27th special opening 10:30');
  t.notOk(scheduleOpen(s, at('2026-12-27T12:00:00Z')), 'sun 27th 13:00 between windows');
  t.equal(minutesOpen(s, '2026-12-26T23:00:00Z', '2026-12-27T23:00:00Z'), 120);
  t.ok(scheduleOpen(s, at('2026-12-28T07:00:00Z')), 'mon 28th back to normal');

  const tail = sched('UTC', [{ days: ['thu'], start: '22:00', end: '06:00' }], [{ date: '2026-01-09', closed: true }]);
  t.ok(scheduleOpen(tail, at('2026-01-08T23:00:00Z')), 'thu 23:00 opens');
  t.notOk(scheduleOpen(tail, at('2026-01-09T01:00:00Z')), 'a closed friday cuts the thursday window at midnight');
  const special = sched('UTC', [{ days: ['thu'], start: '22:00', end: '06:00' }], [{ date: '2026-01-09', windows: [{ start: '00:00', end: '03:00' }] }]);
  t.ok(scheduleOpen(special, at('2026-01-09T02:59:00Z')), 'a special friday window applies');
  t.notOk(scheduleOpen(special, at('2026-01-09T04:00:00Z')), 'and replaces the weekly tail');
  t.ok(scheduleOpen(special, at('2026-01-16T04:00:00Z')), 'the next week is normal');
});

t.test('exception dates are local dates in the gate time zone', async (t) => {
  const ny = sched('America/New_York', [{ days: ALL, start: '00:00', end: '24:00' }], [{ date: '2026-07-04', closed: true }]);
  t.ok(scheduleOpen(ny, at('2026-07-04T03:59:59Z')), 'still 3rd July 23:59:59 EDT');
  t.notOk(scheduleOpen(ny, at('2026-07-04T04:00:00Z')), '4th July 00:00 EDT');
  t.notOk(scheduleOpen(ny, at('2026-07-05T03:59:59Z')), '4th July 23:59:59 EDT');
  t.ok(scheduleOpen(ny, at('2026-07-05T04:00:00Z')), '5th July');
});

t.test('random schedules in a fixed-offset zone agree with plain arithmetic', async (t) => {
  // Etc/GMT-3 is UTC+3 all year: local = utc + 3 h, so a reference needs no time zone logic.
  const rand = mulberry32(42);
  const hhmm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const days: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  let checks = 0;
  for (let k = 0; k < 40; k++) {
    const weekly = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
      const start = Math.floor(rand() * 96) * 15;
      let end = Math.floor(rand() * 97) * 15;
      if (end === start) end = (end + 15) % 1440;
      return { days: days.filter(() => rand() < 0.4), start: hhmm(start), end: end === 1440 ? '24:00' : hhmm(end) };
    }).filter((w) => w.days.length > 0);
    const s = sched('Etc/GMT-3', weekly);
    const reference = (ms: number): boolean => {
      const local = new Date(ms + 3 * 3600_000);
      const dayIdx = local.getUTCDay();
      const min = local.getUTCHours() * 60 + local.getUTCMinutes();
      return weekly.some((w) => {
        const a = Number(w.start.slice(0, 2)) * 60 + Number(w.start.slice(3));
        const b = Number(w.end.slice(0, 2)) * 60 + Number(w.end.slice(3));
        if (b > a) return w.days.includes(days[dayIdx]) && min >= a && min < b;
        return (w.days.includes(days[dayIdx]) && min >= a) || (w.days.includes(days[(dayIdx + 6) % 7]) && min < b);
      });
    };
    for (let i = 0; i < 200; i++) {
      const ms = at('2026-01-01T00:00:00Z') + Math.floor(rand() * 14 * 24 * 60) * 60_000;
      if (scheduleOpen(s, ms) !== reference(ms)) {
        t.fail(`mismatch at ${new Date(ms).toISOString()} for ${JSON.stringify(weekly)}`);
        return;
      }
      checks++;
    }
  }
  t.equal(checks, 8000);
});

t.test('invalid time zones are config errors with a clear message', async (t) => {
  t.notOk(isValidTimeZone('Europe/Berln'));
  t.notOk(isValidTimeZone(''));
  t.ok(isValidTimeZone('Europe/Berlin'));
  t.ok(isValidTimeZone('UTC'));
  const err = t.throws(() => scheduleOpen(sched('Mars/Olympus_Mons', []), 0)) as unknown;
  t.ok(err instanceof GateError);
  t.equal((err as GateError).code, 'GATE_TIME_ZONE_INVALID');
  t.match((err as GateError).message, /unknown time zone 'Mars\/Olympus_Mons'/);
  try {
    parseGates([{ id: 'front', cameras: ['c1'], schedule: { timeZone: 'Europe/Berln', weekly: [] } }]);
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof GateError);
    const g = e as GateError;
    t.equal(g.code, 'GATE_TIME_ZONE_INVALID');
    t.match(g.message, /gates\.0\.schedule\.timeZone: unknown time zone 'Europe\/Berln'/);
    t.match(g.describe(), /fix: use an IANA time zone name/);
  }
});

t.test('schedule config validation', async (t) => {
  const gate = (schedule: unknown): unknown => [{ id: 'g', cameras: ['c'], schedule }];
  const bad = (schedule: unknown, re: RegExp, name: string): void => {
    try {
      parseGates(gate(schedule));
      t.fail(`${name}: should throw`);
    } catch (e) {
      t.ok(e instanceof GateError && e.code === 'GATE_CONFIG_INVALID', name);
      t.match((e as Error).message, re, name);
    }
  };
  bad({ timeZone: 'UTC', weekly: [{ days: ['mon'], start: '08:00', end: '08:00' }] }, /empty window/, 'start = end');
  bad({ timeZone: 'UTC', weekly: [{ days: ['mon'], start: '24:00', end: '08:00' }] }, /start/, 'start 24:00');
  bad({ timeZone: 'UTC', weekly: [{ days: ['mon'], start: '7:00', end: '08:00' }] }, /HH:MM/, 'H:MM');
  bad({ timeZone: 'UTC', weekly: [{ days: ['monday'], start: '07:00', end: '08:00' }] }, /days/, 'day name');
  bad({ timeZone: 'UTC', weekly: [{ days: [], start: '07:00', end: '08:00' }] }, /at least one day/, 'no days');
  bad({ timeZone: 'UTC', exceptions: [{ date: '2026-02-30', closed: true }] }, /calendar date/, 'Feb 30');
  bad({ timeZone: 'UTC', exceptions: [{ date: '2026-12-25' }] }, /exactly one of/, 'neither closed nor windows');
  bad({ timeZone: 'UTC', exceptions: [{ date: '2026-12-25', closed: true, windows: [] }] }, /exactly one of/, 'both');
  bad({ timeZone: 'UTC', exceptions: [{ date: '2026-12-25', windows: [{ start: '22:00', end: '02:00' }] }] }, /same date/, 'exception window across midnight');
  bad({ timeZone: 'UTC', exceptions: [{ date: '2026-12-25', closed: true }, { date: '2026-12-25', closed: true }] }, /same date/, 'duplicate dates');
  bad({ timeZone: 'UTC', weekly: [], extra: 1 }, /Unrecognized key/, 'unknown key');
  const [ok] = parseGates(gate({ timeZone: 'Europe/Berlin', weekly: [{ days: ['mon'], start: '22:00', end: '24:00' }] }));
  t.same(ok.schedule?.exceptions, [], 'exceptions default to []');
});

import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { calibrationFromLog } from '../app/calibration-api.ts';
import { loadConfig, parseConfig } from '../config/index.ts';
import { FacegateError } from '../errors.ts';
import { EventLog } from '../events/index.ts';
import { formatCalibrationReport } from '../recognize/calibration-report.ts';

interface CalibrationCliOptions {
  config?: string;
  json?: boolean;
  days?: number;
  top: number;
}

/**
 * `facegate report calibration`: genuine and stranger score histograms per camera from the event
 * log the config names, the thresholds in force, estimated error rates and the top stranger scores.
 * Reads the log beside a running service (SQLite WAL: readers do not block the writer).
 */
export function runCalibrationReport(o: CalibrationCliOptions): number {
  const config = o.config ? loadConfig(o.config) : parseConfig({});
  const path = config.events.db;
  if (!existsSync(path)) {
    throw new FacegateError('BAD_ARGUMENT', `no event log at ${path}`, { hint: o.config ? `the service has not written events yet, or ${o.config} names another events.db` : 'pass the config the service runs with: --config FILE' });
  }
  const log = new EventLog(path);
  try {
    const report = calibrationFromLog(log, config, { ...(o.days !== undefined ? { fromMs: Date.now() - o.days * 86_400_000 } : {}), top: o.top });
    process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : formatCalibrationReport(report));
    return 0;
  } finally {
    log.close();
  }
}

const positive = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new FacegateError('BAD_ARGUMENT', `${name} must be a positive number, got ${JSON.stringify(v)}`, { hint: `e.g. ${name} 30` });
  return n;
};

export function registerReportCommand(program: Command): void {
  const report = program.command('report').description('reports from the site\'s own data');
  report
    .command('calibration')
    .description('score histograms of recognitions and strangers per camera, the thresholds in force, estimated false accept / reject rates, how close strangers came')
    .option('-c, --config <file>', 'the config the service runs with (its events.db and recognition thresholds)')
    .option('--days <n>', 'only the last N days (default: the whole log)', positive('--days'))
    .option('--top <n>', 'top stranger scores to list', positive('--top'), 10)
    .option('--json', 'print the report as JSON')
    .action((o: CalibrationCliOptions) => {
      process.exitCode = runCalibrationReport(o);
    });
}

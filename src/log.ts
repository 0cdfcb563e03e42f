import { pino, type Logger, type LoggerOptions } from 'pino';
import type { DestinationStream } from 'pino';
import { redactValue } from './redact.ts';

export type { Logger };
/** Re-exported: the one redaction module is src/redact.ts. */
export { redactUrl, redactText } from './redact.ts';

/**
 * Structured logs (pino). Secrets never reach a log line: every string in a log call (message,
 * format arguments, any field of a logged object, Error messages and stacks, child bindings) goes
 * through redactText, and these keys are censored wherever they appear in a log object.
 */
const REDACT_PATHS = ['token', '*.token', 'password', '*.password', 'authorization', '*.authorization', 'headers.authorization'];

/** Pino options that redact; exported so tests can log into their own destination. */
export function loggerOptions(opts: { level?: string; name?: string } = {}): LoggerOptions {
  return {
    name: opts.name ?? 'facegate',
    level: opts.level ?? process.env.FACEGATE_LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    hooks: {
      // Runs before serializers and before the message is formatted: redact every argument
      // (objects deeply, Errors into { type, message, stack }).
      logMethod(args, method) {
        const safe = args.map((a) => redactValue(a)) as Parameters<typeof method>;
        method.apply(this, safe);
      },
    },
    formatters: {
      bindings(bindings) {
        return redactValue(bindings) as Record<string, unknown>;
      },
    },
  };
}

export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const logger = pino(loggerOptions(opts), opts.destination ?? pino.destination({ dest: 2, sync: true }));
  // pino resets the bindings formatter for children, so child bindings (`log.child({ url })`)
  // are redacted here. Children inherit this own property through their prototype chain.
  const child = logger.child;
  const redactingChild = function (this: Logger, bindings: Record<string, unknown>, options?: Parameters<Logger['child']>[1]) {
    return child.call(this, redactValue(bindings) as Record<string, unknown>, options);
  };
  Object.defineProperty(logger, 'child', { value: redactingChild, writable: true, configurable: true });
  return logger;
}

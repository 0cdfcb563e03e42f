import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs (pino). Secrets never reach a log line: credentials in URLs are redacted where
 * they enter (see redactUrl), and these keys are censored wherever they appear in a log object.
 */
const REDACT_PATHS = ['token', '*.token', 'password', '*.password', 'authorization', '*.authorization', 'headers.authorization'];

export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'facegate',
      level: opts.level ?? process.env.FACEGATE_LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** Replace `user:pass@` in any URL-looking string with `***@` so credentials never leave. */
export function redactUrl(url: string): string {
  return url.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^/@\s]+)@/gi, '$1***@');
}

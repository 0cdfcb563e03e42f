import { InvalidArgumentError } from 'commander';
import { FacegateError, isFacegateError, errorMessage } from '../errors.ts';
import { describeBadText, findBadChar } from '../lib/text.ts';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../models/index.ts';

/**
 * Refuse a command line carrying text no store can keep (a NUL, a lone UTF-16 surrogate), naming
 * the option it is the value of. Checked once for every command, before any module loads: a name
 * or reason stored with a NUL travels to the fleet hub, whose PostgreSQL refuses it and stalls.
 * Linux argv cannot carry either (execve stops at NUL; malformed UTF-8 arrives as U+FFFD), but an
 * embedding program or another platform's argv can.
 */
export function refuseBadArguments(args: readonly string[]): void {
  for (let i = 0; i < args.length; i++) {
    const bad = findBadChar(args[i]);
    if (!bad) continue;
    const arg = args[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const prev = i > 0 ? args[i - 1] : '';
    const where = eq > 0 && bad.index > eq ? arg.slice(0, eq) : /^--?[A-Za-z][\w-]*$/.test(prev) && !arg.startsWith('-') ? `the value of ${prev}` : `argument ${i + 1}`;
    const index = eq > 0 && bad.index > eq ? bad.index - eq - 1 : bad.index;
    const message = describeBadText({ path: '', index, kind: bad.kind }, where);
    throw new FacegateError('BAD_ARGUMENT', message.replace(/: remove it.*$/, ''), { context: { argument: i + 1 }, hint: 'remove it: arguments must be valid Unicode text without NUL' });
  }
}

/** Parse a positive integer option, with commander's own error format on bad input. */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got "${value}"`);
    return n;
  };
}

export function nonNegativeInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${value}"`);
    return n;
  };
}

export function probability(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be between 0 and 1, got "${value}"`);
    return n;
  };
}

/** `--ep NAME`: an execution provider name (a provider that cannot start falls back to CPU with a warning). */
export function executionProviderArg(value: string): ExecutionProvider {
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(value)) throw new InvalidArgumentError(`--ep must be one of ${EXECUTION_PROVIDERS.join(', ')}, got "${value}"`);
  return value as ExecutionProvider;
}

/** A person-readable line (plus fix hint) for any error; the stack only with FACEGATE_DEBUG=1. */
export function describeError(e: unknown): string {
  if (isFacegateError(e)) return e.describe();
  // Every stage's typed error (GalleryError, ConfigError, GateError, EventsError, CameraError)
  // carries its own describe() with context and a fix.
  if (hasDescribe(e)) return e.describe();
  if (process.env.FACEGATE_DEBUG === '1' && e instanceof Error && e.stack) return e.stack;
  return errorMessage(e);
}

function hasDescribe(e: unknown): e is Error & { describe(): string } {
  return e instanceof Error && typeof (e as { describe?: unknown }).describe === 'function';
}

export function errorJson(e: unknown): { code: string; message: string; hint?: string } {
  if (e instanceof FacegateError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  if (e instanceof Error && typeof (e as { code?: unknown }).code === 'string') {
    const hint = (e as { hint?: unknown }).hint;
    return { code: (e as unknown as { code: string }).code, message: e.message, ...(typeof hint === 'string' ? { hint } : {}) };
  }
  return { code: 'INTERNAL', message: errorMessage(e) };
}

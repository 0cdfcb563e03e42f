import { InvalidArgumentError } from 'commander';
import { FacegateError, isFacegateError, errorMessage } from '../errors.ts';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../models/index.ts';

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

import { isConfigError, type ConfigError } from '../../src/config/index.ts';

/** The ConfigError a call throws (fails the test when it does not throw one). */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (isConfigError(e)) return e;
    throw e;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

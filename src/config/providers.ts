/** Which execution provider each model role runs on, from `models.executionProvider` + `models.providers`. */
import type { ProviderSpec } from '../models/index.ts';
import type { ModelsConfig } from './schema.ts';

export type ModelRole = 'detector' | 'embedder' | 'classifiers';
export const MODEL_ROLES: readonly ModelRole[] = ['detector', 'embedder', 'classifiers'];

/** The role's own setting, else the default for every role. */
export function providerFor(models: Pick<ModelsConfig, 'executionProvider' | 'providers'>, role: ModelRole): ProviderSpec {
  return models.providers[role] ?? models.executionProvider;
}

/** `cpu`, or `detector=webgpu embedder=cpu classifiers=cpu` when the roles differ. */
export function describeProviders(models: Pick<ModelsConfig, 'executionProvider' | 'providers'>): string {
  const names = MODEL_ROLES.map((r) => {
    const s = providerFor(models, r);
    return typeof s === 'string' ? s : s.deviceId === undefined ? s.name : `${s.name}:${s.deviceId}`;
  });
  return names.every((n) => n === names[0]) ? (names[0] ?? 'cpu') : MODEL_ROLES.map((r, i) => `${r}=${names[i]}`).join(' ');
}

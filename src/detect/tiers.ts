import { FacegateError } from '../errors.ts';

/** One measured tier x input size on one machine. */
export interface ProfileEntry {
  readonly tier: string;
  readonly model: string;
  readonly size: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  /** WIDER FACE hard AP of the tier (from the manifest): the accuracy order of tiers. */
  readonly apHard: number;
}

/** What `facegate bench detect` writes: how fast each tier x size runs on this machine. */
export interface DetectProfile {
  readonly version: 1;
  readonly createdAt: string;
  readonly machine: string;
  readonly threads: number;
  readonly frameWidth: number;
  readonly frameHeight: number;
  readonly entries: readonly ProfileEntry[];
}

/**
 * Accuracy order used for the choice. Input size first: WIDER hard AP is dominated by small faces,
 * and halving the input loses faces below ~20 px whatever the backbone, while a bigger backbone
 * mostly adds recall on hard poses and occlusion. So under a budget the largest input that fits
 * wins, and among equal sizes the tier with the higher AP. (SCRFD's computation redistribution
 * makes the same trade at training time: spend FLOPs at stride 8 where the small faces are.)
 */
export function moreAccurate(a: ProfileEntry, b: ProfileEntry): number {
  if (a.size !== b.size) return b.size - a.size;
  return b.apHard - a.apHard;
}

export interface TierChoice {
  readonly entry: ProfileEntry;
  /** Every candidate considered, most accurate first, with whether its p95 fitted. */
  readonly considered: readonly { readonly entry: ProfileEntry; readonly fits: boolean }[];
}

/**
 * Pick the most accurate tier x size whose measured p95 fits the per-frame budget. If nothing
 * fits, throws NO_TIER_FITS naming the fastest option, rather than silently blowing the budget.
 */
export function chooseTier(profile: DetectProfile, budgetMs: number, allowedTiers?: readonly string[]): TierChoice {
  if (!(budgetMs > 0)) throw new FacegateError('BAD_ARGUMENT', `time budget must be a positive number of ms, got ${budgetMs}`, { context: { budgetMs }, hint: 'e.g. --budget-ms 100' });
  const pool = profile.entries.filter((e) => !allowedTiers || allowedTiers.includes(e.tier));
  if (pool.length === 0) {
    throw new FacegateError('PROFILE_INVALID', 'the detector profile has no entries for the allowed tiers', { context: { allowed: allowedTiers?.join(',') }, hint: 'run `npx facegate bench detect` to measure this machine' });
  }
  const ordered = [...pool].sort(moreAccurate);
  const considered = ordered.map((entry) => ({ entry, fits: entry.p95Ms <= budgetMs }));
  const pick = considered.find((c) => c.fits);
  if (!pick) {
    const fastest = [...pool].sort((a, b) => a.p95Ms - b.p95Ms)[0];
    throw new FacegateError('NO_TIER_FITS', `no detector tier fits ${budgetMs} ms per frame; the fastest measured is ${fastest.tier}@${fastest.size} at p95 ${fastest.p95Ms.toFixed(1)} ms`, {
      context: { budgetMs, fastest: `${fastest.tier}@${fastest.size}` },
      hint: `raise the budget to at least ${Math.ceil(fastest.p95Ms)} ms, lower the camera's fps, or add threads`,
    });
  }
  return { entry: pick.entry, considered };
}

/** Validate a profile read from disk. */
export function parseProfile(doc: unknown, source: string): DetectProfile {
  const bad = (why: string): FacegateError =>
    new FacegateError('PROFILE_INVALID', `detector profile ${source} is invalid: ${why}`, { context: { source }, hint: 'delete it and run `npx facegate bench detect` again' });
  if (typeof doc !== 'object' || doc === null) throw bad('not an object');
  const p = doc as Partial<DetectProfile>;
  if (p.version !== 1) throw bad(`unsupported version ${String(p.version)}`);
  if (!Array.isArray(p.entries) || p.entries.length === 0) throw bad('no entries');
  for (const [i, e] of p.entries.entries()) {
    const ok = typeof e?.tier === 'string' && typeof e.model === 'string' && Number.isInteger(e.size) && e.medianMs > 0 && e.p95Ms > 0 && typeof e.apHard === 'number';
    if (!ok) throw bad(`entries[${i}] needs tier, model, size, medianMs, p95Ms, apHard`);
  }
  return p as DetectProfile;
}

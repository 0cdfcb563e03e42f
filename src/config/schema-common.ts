/**
 * The building blocks every config section shares: the slug rule (ids become MQTT topic levels,
 * Home Assistant unique ids and file names), bounded paths, numbers in range, and the hint that
 * custom issues carry.
 */
import { z } from 'zod';
import { MAX_LENGTH } from './limits.ts';

/** A hint for a person, carried on custom issues as `params.hint`. */
export interface IssueParams {
  readonly hint?: string;
}

export const SLUG = /^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$/;
export const slug = z.string().regex(SLUG, { error: "expected a slug: lowercase letters, digits, '-' and '_' (e.g. 'front-door'), at most 64 characters" });
export const filePath = z.string().min(1).max(MAX_LENGTH.path);
export const positiveInt = z.number().int().min(1);
export const unit = z.number().min(0).max(1);
export const similarity = z.number().min(-1).max(1);

/**
 * sharp (libvips), loaded the first time an image is encoded or decoded. Loading it maps libvips
 * and its libraries and starts libvips: ~29 MB of resident memory in a bare node process, which an
 * idle camera with nobody watching and no event never needs (docs/benchmarks.md). Every service
 * path that encodes or decodes awaits this instead of importing sharp at start-up.
 */
import type sharpModule from 'sharp';

export type Sharp = typeof sharpModule;

let loading: Promise<Sharp> | undefined;

export function loadSharp(): Promise<Sharp> {
  loading ??= import('sharp').then((m) => m.default);
  return loading;
}

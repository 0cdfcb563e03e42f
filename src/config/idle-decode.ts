/**
 * Which cameras `motion.idleDecode: keyframes` can run on: the config check's rule, as a plain
 * function so the dashboard's camera wizard offers the setting by the very rule that will judge
 * the saved file (the wizard imports this file; it must stay free of Node and zod imports).
 */

export const IDLE_DECODE_MODES = ['all', 'keyframes'] as const;
export type IdleDecodeMode = (typeof IDLE_DECODE_MODES)[number];
/** The schema's default: every frame decoded. */
export const IDLE_DECODE_DEFAULT: IdleDecodeMode = 'all';

/**
 * The parts of a camera entry the rule reads. Either the parsed entry (defaults filled in) or the
 * file's entry as written: a missing value means the schema's default (motion on, the `url`
 * shorthand = an rtsp source, codec h264 for rtsp and auto for a file, lossless off).
 */
export interface IdleDecodeCamera {
  readonly motion?: { readonly enabled?: boolean } | undefined;
  readonly source?: { readonly kind: string; readonly codec?: string; readonly lossless?: boolean } | undefined;
}

export interface IdleDecodeProblem {
  /** Where in the camera entry the config check reports it. */
  readonly path: readonly ('motion' | 'idleDecode' | 'source' | 'codec')[];
  readonly message: string;
  readonly hint: string;
}

/** Why this camera cannot decode key frames only while idle; undefined when it can. */
export function idleKeyframesProblem(c: IdleDecodeCamera): IdleDecodeProblem | undefined {
  const src = c.source;
  const kind = src?.kind ?? 'rtsp';
  if (c.motion?.enabled === false) {
    // The motion gate is what wakes full decoding: without it a sleeping camera would never wake.
    return { path: ['motion', 'idleDecode'], message: "idleDecode 'keyframes' needs the motion gate (motion.enabled: true): it is what wakes full decoding", hint: 'turn motion.enabled on, or set idleDecode: all' };
  }
  if (kind !== 'rtsp' && kind !== 'file') {
    return { path: ['motion', 'idleDecode'], message: `idleDecode 'keyframes' needs a compressed stream (an rtsp or file source), not a ${kind} source`, hint: 'set idleDecode: all for this camera' };
  }
  // The parse child needs the codec's parser by name: decodebin's 'auto' chooses it too late.
  const codec = src?.codec ?? (kind === 'file' ? 'auto' : 'h264');
  if (codec === 'auto') {
    return { path: ['source', 'codec'], message: "idleDecode 'keyframes' needs the codec named (h264 or h265), not 'auto'", hint: 'set `codec: h264` (or h265) on the source, or idleDecode: all' };
  }
  if (kind === 'file' && src?.lossless === true) {
    return { path: ['motion', 'idleDecode'], message: "idleDecode 'keyframes' skips decoding idle frames, which a lossless file source promises never to drop", hint: 'set idleDecode: all for offline processing, or lossless: false' };
  }
  return undefined;
}

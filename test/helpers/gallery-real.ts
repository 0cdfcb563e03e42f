/**
 * Real enrollment for the re-embedding tests: photos of real people from ../shared/data through
 * the product's own path (prepareEnrollmentPhoto: detect, align, quality checks, plain + masked
 * templates, aligned crop) into a gallery.
 */
import type { Detector } from '../../src/detect/index.ts';
import type { Gallery, Identity } from '../../src/gallery/index.ts';
import { prepareEnrollmentPhoto, type Embedder, type PhotoVerdict } from '../../src/recognize/index.ts';
import { templatesFromCrop, type EnrollmentCrop } from '../../src/recognize/enroll.ts';
import { dataPath } from './data.ts';

/** Enrolled from photos 1 and 2 of each; photos 3-5 are their probes. faceapi_bbt: 5 tight crops each. */
export const ENROLLED = ['amy', 'howard', 'leonard', 'penny'] as const;
/** Never enrolled: every probe of theirs must stay a stranger. */
export const STRANGERS = ['sheldon', 'raj', 'bernadette', 'stuart'] as const;

export const bbtPhoto = (person: string, n: number): string => dataPath(`identities/faceapi_bbt/${person}/${person}${n}.png`);

export async function acceptedVerdict(photo: string, detector: Detector, embedder: Embedder): Promise<Extract<PhotoVerdict, { ok: true }>> {
  const v = await prepareEnrollmentPhoto(photo, detector, embedder);
  if (!v.ok) throw new Error(`${photo} was rejected: ${v.message}`);
  return v;
}

/** Enroll `people` from photos 1-2 each; `withCrops: false` enrolls as facegate did before crops were kept. */
export async function enrollPeople(gallery: Gallery, detector: Detector, embedder: Embedder, people: readonly string[], opts: { withCrops?: boolean } = {}): Promise<Identity[]> {
  const out: Identity[] = [];
  for (const person of people) {
    const verdicts = [await acceptedVerdict(bbtPhoto(person, 1), detector, embedder), await acceptedVerdict(bbtPhoto(person, 2), detector, embedder)];
    const templates = verdicts.flatMap((v) => v.templates);
    out.push(gallery.enroll({ name: person, templates, ...(opts.withCrops === false ? {} : { crops: verdicts.map((v) => v.crop) }) }));
  }
  return out;
}

export interface ProbeResult {
  readonly person: string;
  readonly photo: number;
  readonly best: string | undefined;
  readonly score: number;
  /** Same probe with the product's synthetic surgical mask, searched against plain + masked templates. */
  readonly maskedBest: string | undefined;
}

export interface ProbeCrop {
  readonly person: string;
  readonly photo: number;
  readonly crop: EnrollmentCrop;
}

/** Probes (photos 3-5) detected and aligned once (the product's path); each model embeds the same crops. */
export async function probeCrops(detector: Detector, embedder: Embedder, people: readonly string[]): Promise<ProbeCrop[]> {
  const out: ProbeCrop[] = [];
  for (const person of people) {
    for (const n of [3, 4, 5]) {
      const v = await prepareEnrollmentPhoto(bbtPhoto(person, n), detector, embedder);
      if (v.ok) out.push({ person, photo: n, crop: v.crop }); // a probe the quality checks refuse is no recognition result either way
    }
  }
  return out;
}

/** Probes embedded by `embedder`, searched in the gallery with that model's templates. */
export async function probePeople(gallery: Gallery, embedder: Embedder, probes: readonly ProbeCrop[]): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (const p of probes) {
    const [plain, masked] = await templatesFromCrop(p.crop, embedder);
    const [best] = gallery.search(plain.embedding, { modelId: embedder.modelId, k: 1 });
    const [maskedBest] = gallery.search(masked.embedding, { modelId: embedder.modelId, k: 1, masked: 'plain+masked' });
    out.push({ person: p.person, photo: p.photo, best: best?.name, score: best?.score ?? -1, maskedBest: maskedBest?.name });
  }
  return out;
}

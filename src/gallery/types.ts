/** Public shapes of the gallery: identities, templates, crops, matches, unknowns. */
import type { RgbImage } from '../types.ts';


export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Metadata = { [key: string]: JsonValue };

/** One embedding to store for an identity (what enrollment produces per photo and mask variant). */
export interface TemplateInput {
  /** Any length > 0; stored L2-normalised as Float32 little-endian. */
  readonly embedding: Float32Array;
  /** The embedder's manifest name: templates of different models are never compared. */
  readonly modelId: string;
  /** True for a template embedded from a synthetically masked photo. */
  readonly masked: boolean;
  /** sha256 (hex) of the enrollment photo it came from. */
  readonly sourcePhotoSha256: string;
  /** Face quality of the source photo (finite, >= 0). */
  readonly quality: number;
}

/** A synthetic mask that enrollment painted on a crop (one masked template each). */
export interface SyntheticMask {
  /** A shape of src/recognize/mask-render.ts (surgical, ffp2, cloth). */
  readonly shape: string;
  readonly colour: readonly [number, number, number];
}

/**
 * The ArcFace-aligned face crop of one enrollment photo, kept so the photo's templates can be
 * rebuilt for another embedder (`facegate gallery reembed`) without the photo.
 */
export interface FaceCropInput {
  /** Packed RGB, row-major (the aligned 112x112 crop the embedder saw). Stored losslessly. */
  readonly image: RgbImage;
  /** sha256 (hex) of the enrollment photo: ties the crop to the templates made from it. */
  readonly sourcePhotoSha256: string;
  /** Face quality of the source photo (finite, >= 0). */
  readonly quality: number;
  /** The masks rendered on it at enrollment, in order: a rebuild renders exactly these. */
  readonly masks: readonly SyntheticMask[];
}

/** A stored crop without its pixels (see Gallery.cropImage). */
export interface StoredCrop {
  readonly id: string;
  readonly identityId: string;
  readonly sourcePhotoSha256: string;
  readonly quality: number;
  readonly width: number;
  readonly height: number;
  readonly masks: readonly SyntheticMask[];
  readonly createdAt: number;
}

/**
 * A person's consent to biometric identification (GDPR Art. 9(2)(a), BIPA): when, who recorded
 * it, how, for what, until when. Not biometric data itself: stored in the clear.
 */
export interface Consent {
  /** ms since the epoch. */
  readonly givenAt: number;
  /** Who recorded it: the API token id, or the operator at the CLI. */
  readonly recordedBy: string;
  /** How it was given: 'written', 'dashboard', 'api', 'cli'... */
  readonly method: string;
  readonly purpose: string;
  /** ms since the epoch; null: until withdrawn. */
  readonly expiresAt: number | null;
  /** The notice the person was shown, or a reference to the signed form. */
  readonly text: string;
}

export interface EnrollInput {
  readonly name: string;
  /** Recorded with the identity (see Consent); the caller enforces privacy.requireConsent. */
  readonly consent?: Consent;
  /** When the identity is erased by the retention run (ms since the epoch; visitors). */
  readonly validUntil?: number | null;
  readonly groups?: readonly string[];
  readonly metadata?: Metadata;
  readonly templates: readonly TemplateInput[];
  /** The enrollment photos' aligned crops (one per photo), kept for re-embedding. */
  readonly crops?: readonly FaceCropInput[];
}

export interface TemplateCount {
  readonly modelId: string;
  readonly masked: boolean;
  readonly count: number;
}

export interface Identity {
  readonly id: string;
  readonly name: string;
  readonly groups: readonly string[];
  readonly metadata: Metadata;
  /** ms since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Templates per model id and masked flag, sorted by model id then plain first. */
  readonly templateCounts: readonly TemplateCount[];
  readonly templateTotal: number;
  /** Present when consent was recorded. */
  readonly consent?: Consent;
  /** Present for an identity with an end (a visitor): erased by the retention run after it (ms). */
  readonly validUntil?: number;
}

export interface Template {
  readonly id: string;
  readonly identityId: string;
  readonly modelId: string;
  readonly masked: boolean;
  readonly dim: number;
  /** null for a template promoted from an unknown cluster (no photo). */
  readonly sourcePhotoSha256: string | null;
  /** null for a template promoted from an unknown cluster. */
  readonly quality: number | null;
  readonly createdAt: number;
}

export type MaskRouting = 'plain' | 'plain+masked';

export interface SearchOptions {
  readonly modelId: string;
  /** Identities to return (default 5). */
  readonly k?: number;
  /** 'plain' (default): plain templates only, for unmasked probes; 'plain+masked': both. */
  readonly masked?: MaskRouting;
}

/** An identity's best template for a probe. */
export interface Match {
  readonly identityId: string;
  readonly name: string;
  readonly groups: readonly string[];
  /** Cosine similarity of the probe and the template. */
  readonly score: number;
  readonly templateId: string;
  readonly masked: boolean;
}

/** An identity that has templates only of other models than the current one. */
export interface ReembedNeed {
  readonly identityId: string;
  readonly name: string;
  readonly modelIds: readonly string[];
}

/** Templates of one model rebuilt from one stored crop (see Gallery.replaceTemplatesFromCrops). */
export interface RebuiltCrop {
  readonly cropId: string;
  readonly templates: readonly TemplateInput[];
}

/** What Gallery.replaceTemplatesFromCrops wrote, or why it wrote nothing. */
export type ReplaceOutcome =
  | { readonly written: true; readonly identities: number; readonly templates: number; readonly replaced: number; readonly goneIdentities: readonly string[] }
  /** Crops of these identities were added after the batch was built: nothing was written; embed them too and retry. */
  | { readonly written: false; readonly newCropIds: readonly string[] };

/** Which identities have crops, for `facegate gallery status` and re-embedding. */
export interface CropCoverage {
  readonly crops: number;
  readonly identitiesWithCrops: number;
  /** Identities with no stored crop: they can only be re-embedded by enrolling them again. */
  readonly identitiesWithoutCrops: readonly { readonly identityId: string; readonly name: string }[];
}

export interface Unknown {
  readonly id: string;
  readonly modelId: string;
  readonly dim: number;
  /** Unit-length mean of the sightings. */
  readonly centroid: Float32Array;
  readonly count: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
}

export interface UnknownSighting {
  readonly id: string;
  readonly isNew: boolean;
  /** Sightings of this unknown including this one. */
  readonly count: number;
  /** Similarity to the matched centroid; -Infinity for a new unknown with nothing to compare to. */
  readonly score: number;
}

export interface GalleryStats {
  readonly identities: number;
  readonly templates: number;
  readonly unknowns: number;
  readonly indexes: readonly { readonly modelId: string; readonly masked: boolean; readonly dim: number; readonly rows: number }[];
  /** How this connection kept up with other writers: full loads (1 at open) and incremental catch-ups. */
  readonly sync: { readonly fullLoads: number; readonly incrementalSyncs: number };
}

export { createDetector, detectionSource, scaleFaceToFull, DEFAULT_TIER_MODELS, type DetectInput, type Detector, type DetectorConfig, type Detection, type DetectionTimings } from './detector.ts';
export { letterbox, letterboxGeometry, inputSizeFor, Letterboxer, SCRFD_NORMALIZATION, type LetterboxGeometry, type Normalization } from './letterbox.ts';
export { decodeScrfd, groupScrfdOutputs, SCRFD_ANCHORS, type RawTensor, type ScrfdLevel, type DecodeOptions } from './scrfd.ts';
export { nms, iou, boxArea } from './nms.ts';
export { pairFacesByIou, maxLandmarkDistance, type FacePair } from './match.ts';
export { chooseTier, moreAccurate, parseProfile, type DetectProfile, type ProfileEntry, type TierChoice } from './tiers.ts';
export { measureDetector, profileFromRows, readProfile, writeProfile, DEFAULT_PROFILE_PATH, type BenchRow, type MeasureOptions } from './profile.ts';
export { detectFaces, type FrameFaces, type DetectStats, type DetectFacesOptions } from './operator.ts';

export { openGallery, Gallery, type GalleryOptions, type WriteOperation } from './gallery.ts';
export { GalleryError, isGalleryError, type GalleryErrorCode, type GalleryErrorContext } from './errors.ts';
export type { EnrollInput, GalleryStats, Identity, JsonValue, MaskRouting, Match, Metadata, ReembedNeed, SearchOptions, Template, TemplateCount, TemplateInput, Unknown, UnknownSighting } from './types.ts';
export { dot, l2norm, l2normalize, embeddingProblem, topK, topKByGroup, GroupTopK, type GroupHit, type RowHit } from './vector.ts';
export { clusterEmbeddings, stableUnknownId, updateCentroid, nextUnknownId, MAX_CLUSTER_INPUTS, type ClusterOptions, type Linkage, type UnknownCentroid, type UnknownMatch } from './cluster.ts';
export { RowStore, rowStride, scoreRowsJs, simdAvailable } from './kernel.ts';
export { EmbeddingIndex, searchIndexes, DEFAULT_SEARCH_TUNING, type IndexHit, type SearchTrace, type SearchTuning } from './embedding-index.ts';
export { SCHEMA_VERSION } from './schema.ts';
export { MAX_NAME_LENGTH, MAX_DIM } from './validate.ts';

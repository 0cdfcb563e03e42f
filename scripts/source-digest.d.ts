// Types for source-digest.js (plain JavaScript: bin/facegate.js reads it before any TypeScript loader).
export declare const SOURCE_DIRS: readonly string[];
export declare function sourceDigest(root: string): string;

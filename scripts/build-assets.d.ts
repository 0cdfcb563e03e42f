// Types for build-assets.js (plain JavaScript: it runs before any TypeScript loader exists).
export declare const ASSET_DIRS: readonly string[];
export declare function isRuntimeAsset(name: string): boolean;
export declare function walk(dir: string, out: string[], keep: (name: string) => boolean): void;
export declare function runtimeAssets(root: string): string[];
export interface AssetReference {
  /** The module that names the asset, relative to the root. */
  readonly module: string;
  /** The asset beside it, relative to the root. */
  readonly asset: string;
}
export declare function referencedAssets(root: string): AssetReference[];
export declare function copyAssets(root: string, outDir: string): number;
export declare function missingAssets(root: string, outDir: string): Array<AssetReference & { readonly inSources: boolean }>;

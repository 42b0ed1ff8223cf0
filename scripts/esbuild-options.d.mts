import type { BuildOptions } from 'esbuild';

/** See esbuild-options.mjs. */
export declare const NODE_BUNDLE: BuildOptions;

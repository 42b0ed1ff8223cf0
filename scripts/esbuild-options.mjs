// The esbuild settings of every bundle the repository makes (the packages' bundle/, the bench's
// compiled scripts): ES modules for Node 20, one file per entry point, code that entries of one
// build share (and what an entry imports dynamically) in chunks of their own, so each module has
// one copy of its state per process, and packages left as imports, so each class has one
// definition however many bundles use it. The bench builds each script on its own.
export const NODE_BUNDLE = {
  bundle: true,
  splitting: true,
  chunkNames: 'shared-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
};

// Import rules of the workspace, checked by `pnpm run lint:deps` in CI: core's layers point one
// way (see packages/core/README.md, "Layout") and each package imports only what DESIGN.md's
// table of packages allows.

const core = '^packages/core/src/';
/** Core's layers above protocol and contracts. */
const upper = `${core}(link|server|client)/`;

/** What each package's source may import of the workspace, by folder under packages/. */
const allowedPackages = {
  core: [],
  sys: [],
  'poll-node': ['core', 'sys'],
  'poll-epoll': ['core'],
  'poll-pump': ['core', 'sys'],
  'transport-socket': ['core', 'sys'],
  'shared-region': ['core', 'sys'],
  // Its connections are set up and watched over a socket: it reuses the socket transport's.
  'transport-shm': ['core', 'sys', 'transport-socket'],
  pollux: ['core', 'poll-node', 'sys', 'transport-socket', 'transport-shm'],
  cli: ['pollux'],
  'bridge-nats': ['core'],
};

const packageRules = Object.entries(allowedPackages).map(([name, allowed]) => ({
  name: `${name}-imports-only-its-allowed-packages`,
  comment: `packages/${name} may import ${allowed.length ? allowed.join(', ') : 'no other package'} of the workspace (DESIGN.md, Packages)`,
  severity: 'error',
  from: { path: `^packages/${name}/src/` },
  to: { path: '^packages/', pathNot: `^packages/(${[name, ...allowed].join('|')})/` },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular-in-core',
      comment: 'Core imports no module that imports it back, type-only imports included',
      severity: 'error',
      from: { path: core },
      to: { circular: true },
    },
    {
      name: 'client-not-to-server',
      comment: 'Client code imports no server code: what both need lives in protocol/, contracts/ or the top level',
      severity: 'error',
      from: { path: `${core}client/` },
      to: { path: `${core}server/` },
    },
    {
      name: 'server-not-to-client',
      comment: 'Server code imports no client code: what both need lives in protocol/, contracts/ or the top level',
      severity: 'error',
      from: { path: `${core}server/` },
      to: { path: `${core}client/` },
    },
    {
      name: 'lower-layers-not-upward',
      comment: 'protocol/, contracts/ and the shared top-level modules import nothing from link/, server/ or client/',
      severity: 'error',
      from: { path: `${core}(protocol/|contracts/|[^/]+$)`, pathNot: `${core}index\\.ts$` },
      to: { path: upper },
    },
    {
      name: 'link-not-to-engines',
      comment: 'link/ (the framed byte stream) imports nothing from server/ or client/',
      severity: 'error',
      from: { path: `${core}link/` },
      to: { path: `${core}(server|client)/` },
    },
    {
      name: 'core-not-to-entry-points',
      comment: "Core's modules import each other, never the package's entry points",
      severity: 'error',
      from: { path: core },
      to: { path: `${core}(index|testing)\\.ts$` },
    },
    {
      name: 'core-npm-dependencies',
      comment: 'Core depends on @standard-schema/spec (for types) only; vitest only in the conformance kit',
      severity: 'error',
      from: { path: core },
      to: {
        dependencyTypes: ['npm', 'npm-dev', 'npm-peer', 'npm-optional', 'npm-no-pkg', 'npm-unknown', 'unknown'],
        pathNot: ['node_modules/(@standard-schema/spec|vitest)/'],
      },
    },
    {
      name: 'vitest-only-in-core-testing',
      comment: 'Only the conformance kit (src/testing/) may import vitest, an optional peer dependency',
      severity: 'error',
      from: { path: core, pathNot: `${core}testing/` },
      to: { path: 'node_modules/vitest/' },
    },
    {
      name: 'native-code-only-in-sys',
      comment: 'Only packages/sys loads native code',
      severity: 'error',
      from: { path: '^packages/', pathNot: '^packages/sys/' },
      to: { path: ['node_modules/node-gyp-build/', '\\.node$'] },
    },
    ...packageRules,
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves: a rule cannot check what it cannot find',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^packages/[^/]+/(dist|build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.d.ts'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};

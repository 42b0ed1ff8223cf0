// The package's second entry point (`@pollux/core/testing`): the poller conformance kit.
/**
 * The poller conformance kit: a vitest suite any `Poller` implementation runs against itself.
 * Import from `@pollux/core/testing`; it needs `vitest` installed.
 *
 * @packageDocumentation
 */
export {
  describePollerConformance,
  type ConformanceFds,
  type PollerConformanceOptions,
} from './testing/poller-conformance.js';

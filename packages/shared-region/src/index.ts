// The package's entry point (`@pollux/shared-region`).
/**
 * Read-only shared regions: a server publishes a memfd it keeps writing; clients map it
 * read-only, kernel-enforced by seals, and copy consistent snapshots of its records through a
 * seqlock, without locks (Monado's device poses).
 *
 * @packageDocumentation
 */
export { SharedRegion, type SharedRegionOptions } from './shared-region.js';
export { SharedRegionView, type SharedRegionViewOptions } from './shared-region-view.js';
export { MAX_RECORD_SIZE, MAX_RECORDS } from './region-layout.js';
export {
  publishRegion,
  unpublishRegion,
  openRegion,
  REGION_SERVICE_NAME,
  REGION_SERVICE_ID,
  type PublishRegionOptions,
  type OpenRegionOptions,
} from './region-service.js';

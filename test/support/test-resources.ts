import { afterEach, beforeEach, expect } from 'vitest';
import type { IpcClient } from 'pollux';
import { memfdMappingCount, openFdCount } from './fds.js';
import type { TestServer } from './server.js';

/** What a test made and leaves for {@link useTestResources} to end. */
export interface TestResources {
  /** The server the test started, stopped after it. */
  running: TestServer | undefined;
  /** Clients the test opened, destroyed after it. */
  readonly clients: IpcClient[];
}

/**
 * Ends what each test of the enclosing `describe` made, then checks that it left nothing behind:
 * clients destroyed, `beforeServerStops` run (a peer process to end, say), the server stopped, and
 * this process's fds and memfd mappings back to what they were when the test began.
 */
export function useTestResources(beforeServerStops?: () => unknown): TestResources {
  const resources: TestResources = { running: undefined, clients: [] };
  let fdsBefore = 0;
  let mappingsBefore = 0;

  beforeEach(() => {
    fdsBefore = openFdCount();
    mappingsBefore = memfdMappingCount();
  });

  afterEach(async () => {
    for (const client of resources.clients.splice(0)) client.destroy();
    await beforeServerStops?.();
    await resources.running?.stop();
    resources.running = undefined;
    expect(openFdCount()).toBe(fdsBefore);
    expect(memfdMappingCount()).toBe(mappingsBefore);
  });

  return resources;
}

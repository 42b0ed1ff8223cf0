/**
 * Shutdown shared by both server processes. The bench stops a server with SIGTERM after each
 * run; watching stdin as well means a server never outlives a bench that crashed or was
 * interrupted (its stdin pipe closes when the parent dies).
 */
export function exitWithParent(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Do not wait forever on a close that hangs: exit is what the bench needs.
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('server close failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}

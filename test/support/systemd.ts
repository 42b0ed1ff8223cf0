import { execFileSync } from 'node:child_process';

/** Whether systemd's `systemd-socket-activate` is installed (Debian's `systemd` package). */
const haveSocketActivate = (() => {
  try {
    execFileSync('systemd-socket-activate', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Whether tests that run `systemd-socket-activate` skip: only where it is missing and
 * `POLLUX_REQUIRE_SYSTEMD` is unset. CI sets it, so there a missing tool fails those tests instead.
 */
export const skipWithoutSystemd = !haveSocketActivate && process.env['POLLUX_REQUIRE_SYSTEMD'] === undefined;

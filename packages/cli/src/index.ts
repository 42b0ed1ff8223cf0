// The package's entry point (`@pollux/cli`): the command as a function, for embedding.
/**
 * The `pollux` command-line inspector, also callable from code: {@link run} takes the arguments
 * of one command line and resolves with its exit status.
 *
 * @packageDocumentation
 */
export { run, type CommandOutput } from './cli.js';
export { ExitCode, type ExitCodeValue } from './exit-codes.js';

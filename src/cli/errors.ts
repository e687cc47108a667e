/**
 * How the CLI fails: one line on stderr and an exit code an operator's
 * scripts (and systemd's Restart= rules) can act on.
 *
 *   0  done (or stopped cleanly by SIGINT/SIGTERM)
 *   1  runtime failure: port in use, bad key file, DB error, no answer
 *   2  usage: unknown or malformed flag, bad argument (enode, ENR, CIDR...)
 */
import { DiscError } from '../errors';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends DiscError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT_FAILURE, code = exitCode === EXIT_USAGE ? 'USAGE' : 'CLI') {
    super(code, message);
    this.exitCode = exitCode;
  }
}

/** A usage error: exit code 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE);
}

/** The key file cannot be read or does not hold a valid key (exit 1). */
export class KeyFileError extends DiscError {
  constructor(message: string) {
    super('BAD_KEY_FILE', message);
  }
}

/** Error messages on one line: a multi-line message would break log parsers and `2>` greps. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}

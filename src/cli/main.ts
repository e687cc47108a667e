#!/usr/bin/env node
/**
 * discv4: the operator's command line (package.json "bin", `npm start`).
 *
 *   discv4 [bootnode] [flags]        run a bootnode (the default)
 *   discv4 genkey | keyinfo | ping | requestenr | resolve | lookup | crawl
 *
 * Every failure ends here as ONE line, `discv4: <message>`, on stderr and an
 * exit code: 2 for usage errors (flags, arguments), 1 for the rest (see
 * errors.ts). Stack traces only at --verbosity 5.
 */
import { DiscError } from '../errors';
import { runBootnode, Io } from './bootnode';
import { cmdBans, cmdCrawl, cmdGenkey, cmdKeyinfo, cmdLookup, cmdPing, cmdRequestEnr, cmdResolve } from './commands';
import { CliError, EXIT_FAILURE, EXIT_USAGE, oneLine } from './errors';
import { COMMANDS, CommandName, helpText, parseArgs, resolveOptions } from './flags';
import { packageVersion } from './version';

/** Error codes of library errors that mean a bad argument rather than a failure. */
const USAGE_CODES = new Set(['BAD_ENODE', 'BAD_ENR', 'BAD_CIDR', 'INVALID_ARGUMENT', 'USAGE']);

export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof DiscError && USAGE_CODES.has(err.code)) return EXIT_USAGE;
  return EXIT_FAILURE;
}

const stdio: Io = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

let showStacks = false;

/** Runs the CLI; resolves with the exit code, rejects with the error to report. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, io: Io = stdio): Promise<number> {
  const parsed = parseArgs(argv, env);
  const o = resolveOptions(parsed);
  showStacks = o.verbosity >= 5;
  if (o.version) {
    io.out(`discv4 ${packageVersion()} (discv4-native; node ${process.version}, ${process.platform}-${process.arch})\n`);
    return 0;
  }
  if (o.command === 'help') {
    const about = o.args[0];
    if (about !== undefined && !Object.prototype.hasOwnProperty.call(COMMANDS, about)) {
      throw new CliError(`help: unknown command ${JSON.stringify(about)}`, EXIT_USAGE);
    }
    io.out(helpText(about as CommandName | undefined, packageVersion()));
    return 0;
  }
  if (o.help) {
    io.out(helpText(o.commandGiven ? o.command : undefined, packageVersion()));
    return 0;
  }
  switch (o.command) {
    case 'bootnode':
      return runBootnode(o, io);
    case 'genkey':
      return cmdGenkey(o, io);
    case 'keyinfo':
      return cmdKeyinfo(o, io);
    case 'ping':
      return cmdPing(o, io);
    case 'requestenr':
      return cmdRequestEnr(o, io);
    case 'resolve':
      return cmdResolve(o, io);
    case 'lookup':
      return cmdLookup(o, io);
    case 'crawl':
      return cmdCrawl(o, io);
    case 'bans':
    case 'ban':
    case 'unban':
      return cmdBans(o, io);
  }
}

/** Exits once stdout has taken everything written (pipes and files are synchronous on Linux; this covers the rest). */
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

if (require.main === module) {
  main(process.argv.slice(2)).then(exit, (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`discv4: ${oneLine(message)}\n`);
    if (showStacks && err instanceof Error && err.stack !== undefined) process.stderr.write(`${err.stack}\n`);
    exit(exitCodeOf(err));
  });
}

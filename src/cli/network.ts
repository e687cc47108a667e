/**
 * `--network <name | genesis file>` and `--genesis-hash`: a built-in
 * network by name, or any network from its go-ethereum genesis.json (or
 * chain config), read by src/node/genesis.ts. Errors become one usage
 * line naming the flag (exit 2).
 */
import { NETWORKS, NetworkName } from '../node/forkid';
import { ChainSpec, GenesisError, loadChainSpec } from '../node/genesis';
import { resolve as resolvePath } from 'node:path';
import { usageError } from './errors';

export interface NetworkChoice {
  network?: NetworkName;
  /** From a genesis file. */
  schedule?: ChainSpec;
  /** The file, for display. */
  file?: string;
}

/** A name of NETWORKS, or a path (anything with a '/' or ending in .json, or an existing file). */
export function resolveNetwork(value: string, source: string, genesisHash: { value: string; source: string } | undefined, cwd: string): NetworkChoice {
  if (value in NETWORKS) {
    if (genesisHash !== undefined) throw usageError(`${genesisHash.source} is only for --network <genesis file>: ${value} has its own genesis`);
    return { network: value as NetworkName };
  }
  if (!/[/\\]|\.json$/i.test(value)) {
    throw usageError(`invalid value ${JSON.stringify(value)} for ${source}: expected ${Object.keys(NETWORKS).join(', ')} or the path of a genesis .json file`);
  }
  const file = resolvePath(cwd, value);
  try {
    return { schedule: loadChainSpec(file, genesisHash?.value), file };
  } catch (err) {
    if (err instanceof GenesisError) throw usageError(`${err.message} (${source})`);
    throw err;
  }
}

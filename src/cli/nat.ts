/**
 * --nat, in geth's forms (p2p/nat.Parse): none, extip:<IP>, upnp, pmp,
 * pmp:<gateway IP>, any. The mappings themselves are src/nat's; this
 * parses the flag with CLI usage errors (exit 2).
 */
import { DiscError } from '../errors';
import { formatNat, NatSpec, parseNat as parseNatSpec } from '../nat';
import { usageError } from './errors';

export type { NatSpec };
export { formatNat };

/** Parses a --nat value; `source` names the flag or environment variable in usage errors. */
export function parseNat(text: string, source = '--nat'): NatSpec {
  try {
    return parseNatSpec(text);
  } catch (err) {
    if (err instanceof DiscError && err.code === 'BAD_NAT') {
      throw usageError(`invalid value ${JSON.stringify(text)} for ${source}: ${err.message.replace(/^nat: /, '')}`);
    }
    throw err;
  }
}

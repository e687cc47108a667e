/**
 * --nat, in geth's forms (p2p/nat.Parse): none, extip:<IP>, upnp, pmp,
 * pmp:<gateway IP>, any. The mappings themselves are src/nat's; this
 * parses the flag with CLI usage errors (exit 2).
 */
import { isIP } from 'node:net';
import { usageError } from './errors';

export type NatSpec =
  | { kind: 'none' }
  | { kind: 'extip'; ip: string }
  | { kind: 'upnp' }
  | { kind: 'pmp'; gateway?: string }
  | { kind: 'any' };

/** Parses a --nat value; `source` names the flag or environment variable in errors. */
export function parseNat(text: string, source = '--nat'): NatSpec {
  const colon = text.indexOf(':');
  const mech = (colon < 0 ? text : text.slice(0, colon)).toLowerCase();
  const arg = colon < 0 ? undefined : text.slice(colon + 1);
  const bad = (why: string) => usageError(`invalid value ${JSON.stringify(text)} for ${source}: ${why}`);
  switch (mech) {
    case 'none':
    case 'off':
    case '':
      if (arg !== undefined) throw bad('"none" takes no argument');
      return { kind: 'none' };
    case 'extip':
      if (arg === undefined || isIP(arg) === 0) throw bad('expected extip:<IP address>');
      return { kind: 'extip', ip: arg };
    case 'upnp':
    case 'any':
      if (arg !== undefined && arg !== '') throw bad(`"${mech}" takes no argument`);
      return { kind: mech };
    case 'pmp':
    case 'natpmp':
    case 'nat-pmp':
      if (arg === undefined || arg === '') return { kind: 'pmp' };
      if (isIP(arg) === 0) throw bad('expected pmp or pmp:<gateway IP>');
      return { kind: 'pmp', gateway: arg };
    default:
      throw bad('expected none, extip:<IP>, upnp, pmp, pmp:<gateway IP> or any');
  }
}

export function formatNat(nat: NatSpec): string {
  if (nat.kind === 'extip') return `extip:${nat.ip}`;
  if (nat.kind === 'pmp' && nat.gateway !== undefined) return `pmp:${nat.gateway}`;
  return nat.kind;
}

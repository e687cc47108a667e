/** EIP-1459 DNS discovery: tree entries and signing (tree.ts), the ethjs-compatible client (client.ts). */
export {
  DnsError,
  parseTreeUrl,
  formatTreeUrl,
  parseEntry,
  verifyRoot,
  signRoot,
  makeTree,
  subdomainOf,
  hashMatches,
  isValidHash,
  base32Encode,
  base32Decode,
  MAX_CHILDREN,
  ROOT_PREFIX,
  LINK_PREFIX,
  BRANCH_PREFIX,
  RECORD_PREFIX,
} from './tree';
export type { DnsErrorCode, TreeEntry, RootEntry, BranchEntry, EnrEntry, LinkEntry } from './tree';
export { DNS, ENR, DNS_DEFAULTS } from './client';
export type { PeerInfo, DnsOptions, DnsStats, TxtResolver } from './client';

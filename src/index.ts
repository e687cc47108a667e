/**
 * discv4-native: Ethereum's Node Discovery Protocol v4 over a native core.
 */
export {
  DiscError,
  DecodeError,
  DecodeStatus,
  InvalidArgumentError,
  TimeoutError,
  ClosedError,
  QueueFullError,
  DECODE_ERROR_CODES,
} from './errors';
export type { DecodeErrorCode } from './errors';
export {
  keccak256,
  nodeIdFromPrivateKey,
  isValidPrivateKey,
  generatePrivateKey,
  sign,
  recover,
  nativeCrypto,
} from './crypto';
export type { Crypto } from './crypto';
export * from './wire';
export { nodeHash, logDistance, distCmp } from './table/distance';
export { Transport, MAX_NEIGHBORS_PER_PACKET } from './transport/transport';
// Every default, with its unit and where geth/reth set the same (src/defaults.ts).
export * as defaults from './defaults';
export {
  BUCKET_SIZE,
  RESP_TIMEOUT_MS as DEFAULT_RESP_TIMEOUT_MS,
  BOND_EXPIRATION_MS as DEFAULT_BOND_EXPIRATION_MS,
  REFRESH_INTERVAL_MS as DEFAULT_REFRESH_INTERVAL_MS,
} from './defaults';
export type { TransportConfig, TransportStats, RemoteNode, VerifiedNode, PongInfo, InboundPacket, DropReason } from './transport/transport';
export { bindDgram, DgramPacketSocket, BindError, DEFAULT_SOCKET_BUFFER_SIZE } from './transport/socket';
export type { PacketSocket, BindOptions, RemoteAddress, SocketAddress } from './transport/socket';
export { Netlist, parseCidr, relayIPError, isLAN, isLoopback } from './transport/netutil';
export { MemoryBondStore } from './transport/bonds';
export type { BondStore, BondRecord } from './transport/bonds';
export { signRecord, compressNodeId } from './enr/record';
export { bindNative, NativePacketSocket } from './transport/native-socket';
export { listen, bindSocket } from './transport/listen';
export type { ListenOptions, SocketKind } from './transport/listen';
export { Table, TableNode, BUCKET_MIN_DISTANCE, N_BUCKETS, MAX_REPLACEMENTS } from './table/table';
export type { TableConfig, TableNet, NodeRecordInfo } from './table/table';
export { Lookup, ALPHA, K } from './lookup/lookup';
export type { LookupNode, LookupConfig, LookupStats } from './lookup/lookup';
export { NodeDB, DbError } from './db';
export type { StoredNode, NodeDBOptions } from './db';
export { Discovery } from './node/discovery';
export type { DiscoveryOptions } from './node/discovery';
export { parseEnode, formatEnode, EnodeError } from './node/enode';
export type { EnodeInfo } from './node/enode';
export { parseRecord, decodeRecord } from './enr/record';
export type { DecodedRecord, RecordError } from './enr/record';
export { EnrError, decodeEnr, encodeEnrText, decodeEnrText, LocalRecord } from './enr';
export { IPTracker } from './node/iptracker';
export { parseNat, formatNat, openNat, NatManager, discoverUpnp, natPmp } from './nat';
export type { NatSpec, NatMapping, PortMapper } from './nat';
// The @ethereumjs/devp2p-compatible DPT (every ethjs name: 'discv4-native/dpt').
export { DPT } from './dpt/dpt';
export type { DPTOptions, DPTEvent } from './dpt/types';
// discv5 beside discv4 on one UDP port lives at 'discv4-native/v5' (src/v5):
// its declarations use @chainsafe/discv5's, which do not type-check under
// strict settings without skipLibCheck, so the root entry keeps them out.

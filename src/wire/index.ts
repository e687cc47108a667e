/** The discv4 wire codec: pure functions, no I/O. */
export * from './types';
export { ipToBytes, ipToString } from './ip';
export {
  writePacket,
  encodePacket,
  expirationFromNow,
  writePingRaw,
  writePongRaw,
  writeFindnodeRaw,
  writeNeighborsRaw,
  writeEnrRequestRaw,
  writeEnrResponseRaw,
} from './encode';
export type { NodeBytes } from './encode';
export {
  PacketView,
  readPacket,
  parseBody,
  decodePacket,
  packetFromView,
  neighborIdStart,
  MAX_NEIGHBORS_PER_DATAGRAM,
} from './decode';
export type { DecodeOptions } from './decode';

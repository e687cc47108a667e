/**
 * discv4 packet types and fields (devp2p discv4.md, EIP-8, EIP-868).
 *
 * Input types (`*Fields`) are what `encodePacket` takes; decoded types
 * (`Ping`, `Pong`, ...) are what `decodePacket` returns. Byte fields of
 * decoded packets are views into the datagram, not copies: copy them
 * (`Buffer.from(view)`) if you keep them after reusing the datagram buffer.
 */

export enum PacketType {
  Ping = 0x01,
  Pong = 0x02,
  Findnode = 0x03,
  Neighbors = 0x04,
  EnrRequest = 0x05,
  EnrResponse = 0x06,
}

export const PACKET_TYPE_NAMES: Readonly<Record<PacketType, string>> = {
  [PacketType.Ping]: 'ping',
  [PacketType.Pong]: 'pong',
  [PacketType.Findnode]: 'findnode',
  [PacketType.Neighbors]: 'neighbors',
  [PacketType.EnrRequest]: 'enrRequest',
  [PacketType.EnrResponse]: 'enrResponse',
};

/** Size limits and layout (discv4.md). */
export const HASH_SIZE = 32;
export const SIGNATURE_SIZE = 65;
/** hash || signature: the headroom `seal` fills in front of type || RLP. */
export const HEAD_SIZE = HASH_SIZE + SIGNATURE_SIZE; // 97
export const MIN_PACKET_SIZE = HEAD_SIZE + 1; // 98
export const MAX_PACKET_SIZE = 1280;
export const NODE_ID_SIZE = 64;
/** The ping version we send (discv4.md). Any version is accepted (EIP-8). */
export const PING_VERSION = 4;

/** An endpoint as encoded: IP as 4 or 16 bytes, or text. */
export interface EndpointInput {
  ip: Uint8Array | string;
  udpPort: number;
  /** 0 when the node takes no TCP connections (geth's default for `to`). */
  tcpPort?: number;
}

export interface NodeInput extends EndpointInput {
  /** The node's 64-byte id (public key). */
  id: Uint8Array;
}

/** Seconds since the Unix epoch. */
export type UnixSeconds = number | bigint;

export interface PingFields {
  /** Defaults to 4. */
  version?: number;
  from: EndpointInput;
  to: EndpointInput;
  /** Defaults to now + 20 s. */
  expiration?: UnixSeconds;
  /** EIP-868: the sender's ENR sequence number. Omitted when absent. */
  enrSeq?: number | bigint;
}

export interface PongFields {
  to: EndpointInput;
  /** The hash of the ping being answered. */
  replyToken: Uint8Array;
  expiration?: UnixSeconds;
  enrSeq?: number | bigint;
}

export interface FindnodeFields {
  target: Uint8Array;
  expiration?: UnixSeconds;
}

export interface NeighborsFields {
  nodes: readonly NodeInput[];
  expiration?: UnixSeconds;
}

export interface EnrRequestFields {
  expiration?: UnixSeconds;
}

export interface EnrResponseFields {
  /** The hash of the ENRRequest being answered. */
  replyToken: Uint8Array;
  /** The node record: its full RLP encoding (an RLP list). */
  record: Uint8Array;
}

export interface PacketFieldsByType {
  [PacketType.Ping]: PingFields;
  [PacketType.Pong]: PongFields;
  [PacketType.Findnode]: FindnodeFields;
  [PacketType.Neighbors]: NeighborsFields;
  [PacketType.EnrRequest]: EnrRequestFields;
  [PacketType.EnrResponse]: EnrResponseFields;
}

// ---------------------------------------------------------------- decoded

export interface Endpoint {
  /** 4 bytes (IPv4) or 16 (IPv6) from honest peers; any length is decoded. */
  ip: Buffer;
  udpPort: number;
  tcpPort: number;
}

export interface NeighborNode extends Endpoint {
  id: Buffer;
}

interface PacketBase {
  /** packet[0:32]: keccak256 of the rest; the reply token for pongs. */
  hash: Buffer;
  /** The sender's 64-byte id, recovered from the signature. */
  nodeId: Buffer;
  /** Raw RLP of list elements after the known fields (EIP-8: ignored). */
  rest: Buffer[];
}

export interface Ping extends PacketBase {
  type: PacketType.Ping;
  version: number;
  from: Endpoint;
  to: Endpoint;
  /** Unix seconds. A uint64 of 2^63 or more reads as negative, as geth reads it (int64): long past. */
  expiration: number;
  /** Absent when the packet carries none, or (EIP-8) the slot is not an integer. */
  enrSeq?: bigint;
}

export interface Pong extends PacketBase {
  type: PacketType.Pong;
  to: Endpoint;
  replyToken: Buffer;
  expiration: number;
  enrSeq?: bigint;
}

export interface Findnode extends PacketBase {
  type: PacketType.Findnode;
  target: Buffer;
  expiration: number;
}

export interface Neighbors extends PacketBase {
  type: PacketType.Neighbors;
  nodes: NeighborNode[];
  expiration: number;
}

export interface EnrRequest extends PacketBase {
  type: PacketType.EnrRequest;
  expiration: number;
}

export interface EnrResponse extends PacketBase {
  type: PacketType.EnrResponse;
  replyToken: Buffer;
  /** The record's full RLP (verified by the ENR layer, not here). */
  record: Buffer;
}

export type Packet = Ping | Pong | Findnode | Neighbors | EnrRequest | EnrResponse;

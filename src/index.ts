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

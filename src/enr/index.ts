/** Node records (EIP-778): decode/verify, sign, text form, our local record. */
export { signRecord, compressNodeId, parseRecord, decodeRecord, MAX_RECORD_SIZE } from './record';
export type { DecodedRecord, RecordError } from './record';
export {
  EnrError,
  ENR_ERROR_CODES,
  ENR_ERROR_MESSAGES,
  decodeEnr,
  encodeEnrText,
  decodeEnrText,
  pairBytes,
  pairIp,
  pairUint,
} from './enr';
export type { EnrErrorCode } from './enr';
export { LocalRecord, LOCAL_RECORD_CONTENT_KEY } from './local';
export type { LocalRecordStore, LocalEndpoint } from './local';

/**
 * The @ethereumjs/devp2p DPT API over discv4-native: switch by changing
 * `from '@ethereumjs/devp2p'` to `from 'discv4-native/dpt'` (or the root).
 */
export { DPT } from './dpt';
export { Server, DEFAULT_PING_TIMEOUT_MS } from './server';
export { KBucket } from './kbucket';
export { BanList } from './ban-list';
export { encode, decode } from './message';
export type { CommonLike } from './message';
export { cryptoFromCommon } from './crypto';
export * from './util';
export { Events } from './types';
export type { DPTOptions, DPTServerOptions, DPTEvent, ServerEvent } from './types';
export { DNS, ENR } from '../dns';

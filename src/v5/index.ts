export { startDiscv5 } from './service';
export type { V5Options, V5Service, V5Stats } from './service';
export { V5Transport, ADDR_CACHE_SIZE } from './transport';
export type { V5TransportConfig, V5TransportStats } from './transport';
export { loadDiscv5 } from './lib';
export type { V5Lib, Discv5, Discv5Config, ENR } from './lib';

/**
 * The persistent node database (see nodedb.ts for the key layout,
 * corruption and sharing rules, write-behind.ts for the write queue).
 */
export {
  NodeDB,
  SCHEMA_VERSION,
  DATA_FILE,
  DEFAULT_EXPIRE_MAX_WORK,
} from './nodedb';
export type { NodeDBOptions, NodeDBStats, StoredNode } from './nodedb';
export { DbError, RESET_ADVICE } from './errors';
export type { DbErrorCode } from './errors';
export { MAX_RECORD_BYTES } from './codec';

import { DiscError } from '../errors';

/**
 * Stable codes of {@link DbError}:
 * - DB_VERSION: the directory holds a node DB of another schema version (or
 *   a store without one); we refuse rather than wipe it as geth does.
 * - DB_CORRUPT: the files or a required entry cannot be read as a node DB.
 * - DB_LOCKED: the directory is already open in this process. Other
 *   processes may share it (see nodedb.ts, "Sharing").
 * - DB_IO: the file system refused (permissions, disk full), a background
 *   write failed, or the DB is closed.
 */
export type DbErrorCode = 'DB_VERSION' | 'DB_CORRUPT' | 'DB_LOCKED' | 'DB_IO';

/** How to recover, appended to every open-time error: the DB is a cache. */
export const RESET_ADVICE = 'move or delete the directory to start fresh (its nodes will be re-learned)';

export class DbError extends DiscError {
  declare readonly code: DbErrorCode;
  /** The DB directory, or ':memory:' for the in-memory DB. */
  readonly path: string;
  constructor(code: DbErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(code, message);
    this.path = path;
    // Keep the engine's own error for debugging; the message is ours.
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

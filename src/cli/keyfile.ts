/**
 * Node key files, in geth's `nodekey` format: the 32-byte secp256k1
 * private key as 64 hex characters (we add a newline, and accept a 0x
 * prefix and surrounding whitespace when reading, as geth's LoadECDSA does
 * since 1.10). The key is the node's identity: files are created with mode
 * 0600 inside a 0700 directory, never overwritten, and a file others can
 * read is reported (a warning, not an error: the operator may have reasons).
 */
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generatePrivateKey, isValidPrivateKey } from '../crypto';
import { osExplain } from '../errors';
import { KeyFileError } from './errors';

export const KEY_FILE_MODE = 0o600;
export const DATA_DIR_MODE = 0o700;

/** Parses key text; `what` names its origin in errors. Never echoes the text: it is a secret. */
export function parseKeyHex(text: string, what: string): Buffer {
  let t = text.trim();
  if (t.startsWith('0x') || t.startsWith('0X')) t = t.slice(2);
  if (!/^[0-9a-fA-F]{64}$/.test(t)) {
    const found = /^[0-9a-fA-F]*$/.test(t) ? `${t.length} hex characters` : 'non-hex characters';
    throw new KeyFileError(`${what} does not hold a private key: expected 64 hex characters, found ${found}`);
  }
  const key = Buffer.from(t, 'hex');
  if (!isValidPrivateKey(key)) throw new KeyFileError(`${what} holds an invalid secp256k1 private key (zero, or not below the curve order)`);
  return key;
}

/** What to do about a key file that holds no valid key: it is the node's identity, so never replaced for the operator. */
function restoreAdvice(path: string): string {
  return `restore it from a backup (the key is the node's identity), or move it away and run \`discv4 genkey ${path}\` for a new identity`;
}

/**
 * The option or argument that chose a key file's path, named in the fixes
 * ("choose another --nodekey"): `--datadir` for <datadir>/nodekey.
 */
export const KEY_PATH = 'key file path';

/**
 * Why the file system refused, and what to do (errors.ts osExplain), with
 * the key file's own advice where it has one when reading: a missing key
 * is created by `discv4 genkey`.
 */
function fsExplain(err: unknown, path: string, flag: string, reading: boolean): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (reading && code === 'ENOENT') return `no such file; create one with \`discv4 genkey ${path}\``;
  if (reading && code === 'EISDIR') return `it is a directory; move the directory away and put the key file there, or run \`discv4 genkey ${path}\` for a new identity`;
  if (reading && (code === 'EACCES' || code === 'EPERM')) return 'permission denied; make it readable by the user running discv4 (chown it, then chmod 600)';
  return osExplain(err, flag);
}

/** Permission bits beyond the owner's, or 0 (always 0 on Windows, which has no such bits). */
export async function openPermissions(path: string): Promise<number> {
  if (process.platform === 'win32') return 0;
  return (await stat(path)).mode & 0o077;
}

export function permissionWarning(path: string, mode: number): string {
  return `key file ${path} is accessible by other users (mode 0${(mode & 0o777).toString(8)}); run: chmod 600 ${path}`;
}

/**
 * Reads a key file. Throws KeyFileError when it cannot be read or holds no
 * valid key; calls `warn` when its permissions are wider than 0600.
 */
export async function readKeyFile(path: string, warn: (message: string) => void, flag = KEY_PATH): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KeyFileError(`cannot read key file ${path}: ${fsExplain(err, path, flag, true)}`);
  }
  let key: Buffer;
  try {
    key = parseKeyHex(text, `key file ${path}`);
  } catch (err) {
    throw err instanceof KeyFileError ? new KeyFileError(`${err.message}; ${restoreAdvice(path)}`) : err;
  }
  if ((await openPermissions(path)) !== 0) warn(permissionWarning(path, (await stat(path)).mode));
  return key;
}

/**
 * Writes `key` to `path` with mode 0600, creating the directory (0700).
 * Never replaces an existing file: the new file is written beside it and
 * hard-linked into place, which fails if the name exists, so two processes
 * starting at once cannot both create a key (one gets EEXIST).
 */
export async function writeKeyFile(path: string, key: Uint8Array, flag = KEY_PATH): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: DATA_DIR_MODE });
  } catch (err) {
    throw new KeyFileError(`cannot create directory ${dir} for key file ${path}: ${fsExplain(err, path, flag, false)}`);
  }
  const tmp = `${path}.tmp-${process.pid}`;
  // A leftover of a crashed run with our pid would make 'wx' fail.
  await unlink(tmp).catch(() => undefined);
  try {
    const fh = await open(tmp, 'wx', KEY_FILE_MODE);
    try {
      await fh.writeFile(`${Buffer.from(key).toString('hex')}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(tmp, KEY_FILE_MODE); // whatever the umask did
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KeyFileError(`key file ${path} already exists; not overwriting a node identity (move it away first)`);
    }
    throw new KeyFileError(`cannot write key file ${path}: ${fsExplain(err, path, flag, false)}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * The key at `path`, created if the file does not exist (first run of a
 * bootnode with the default key location).
 */
export async function loadOrCreateKey(path: string, warn: (message: string) => void, flag = KEY_PATH): Promise<{ key: Buffer; created: boolean }> {
  try {
    await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KeyFileError(`cannot read key file ${path}: ${fsExplain(err, path, flag, true)}`);
    }
    const key = generatePrivateKey();
    try {
      await writeKeyFile(path, key, flag);
      return { key, created: true };
    } catch (e) {
      // Another process created it first: use theirs.
      if (!(e instanceof KeyFileError && /already exists/.test(e.message))) throw e;
    }
  }
  return { key: await readKeyFile(path, warn, flag), created: false };
}

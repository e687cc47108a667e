/**
 * The numbers native/ and src/ share, checked by name on both sides:
 *
 * - the C++ headers (native/*.h, parsed here: enums, constexprs and the
 *   datagram record's struct layout) against the TypeScript definitions
 *   (src/errors.ts NativeStatus and DecodeStatus, src/crypto/native.ts
 *   NATIVE_CONTRACT, src/wire/types.ts sizes);
 * - the loaded addon's `contract` export against the same definitions;
 * - that src/transport/native-socket.ts keeps no literal copies (it imports them).
 *
 * Every comparison goes by name, never by position, and a failure names
 * the code that differs; the last tests feed altered headers and addon
 * values through the same checks to prove they fail.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DecodeStatus } from '../src/errors';
import { NATIVE_CONTRACT, checkNativeContract, native, nativeContractMismatch } from '../src/crypto/native';
import * as wireTypes from '../src/wire/types';
import { Status as NobleStatus } from './helpers/noble-crypto';

const ROOT = path.join(__dirname, '..');
const NATIVE_DIR = path.join(ROOT, 'native');
const NATIVE_SOCKET_TS = path.join(ROOT, 'src', 'transport', 'native-socket.ts');

type Values = Record<string, number>;
/** Header file name -> its text. */
type Headers = Record<string, string>;

function readHeaders(): Headers {
  const out: Headers = {};
  for (const f of fs.readdirSync(NATIVE_DIR).sort()) {
    if (f.endsWith('.h')) out[f] = fs.readFileSync(path.join(NATIVE_DIR, f), 'utf8');
  }
  return out;
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
}

interface CxxEnum {
  file: string;
  scoped: boolean;
  /** Member name (with its `k`) -> initialiser text, in declaration order. */
  members: [string, string | undefined][];
}

interface CxxStruct {
  file: string;
  /** The text between the braces (read by layout(), for the structs asked for). */
  body: string;
}

/** The enums, constexprs and structs of the headers, with an evaluator for their constant expressions. */
class HeaderModel {
  readonly enums = new Map<string, CxxEnum[]>();
  readonly constants = new Map<string, { file: string; expr: string }[]>();
  readonly structs = new Map<string, CxxStruct[]>();
  private readonly cache = new Map<string, number>();

  constructor(headers: Headers) {
    for (const [file, raw] of Object.entries(headers)) {
      const text = stripComments(raw);
      for (const m of text.matchAll(/\benum\s+(class\s+|struct\s+)?(\w+)\s*(?::\s*[\w:]+\s*)?\{([^}]*)\}/g)) {
        const members = m[3]
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
          .map((s): [string, string | undefined] => {
            const eq = s.indexOf('=');
            return eq < 0 ? [s, undefined] : [s.slice(0, eq).trim(), s.slice(eq + 1).trim()];
          });
        push(this.enums, m[2], { file, scoped: m[1] !== undefined, members });
      }
      for (const m of text.matchAll(/\bconstexpr\s+[\w:]+\s+(k\w+)\s*=\s*([^;{]+);/g)) {
        push(this.constants, m[1], { file, expr: m[2].trim() });
      }
      for (const m of text.matchAll(/\bstruct\s+(\w+)\s*\{([^{}]*)\}\s*;/g)) {
        push(this.structs, m[1], { file, body: m[2] });
      }
    }
  }

  /** The one definition of enum `name`; fails if it is missing or defined twice. */
  enumDef(name: string): CxxEnum {
    return one(this.enums, name, 'enum');
  }

  /** Member name without its `k` -> value. */
  enumValues(name: string): Values {
    const def = this.enumDef(name);
    const out: Values = {};
    let next = 0;
    const own = new Map<string, number>();
    for (const [member, expr] of def.members) {
      const v = expr === undefined ? next : this.evaluate(expr, own, `${def.file} ${name}::${member}`);
      own.set(member, v);
      out[dropK(member, `${name}::${member}`)] = v;
      next = v + 1;
    }
    return out;
  }

  /** The constexprs of `file` at namespace level, by name without the `k`. */
  constantsOf(file: string): Values {
    const out: Values = {};
    for (const [name, defs] of this.constants) {
      if (defs.some((d) => d.file === file)) out[dropK(name, name)] = this.symbol(name, `${file} ${name}`);
    }
    return out;
  }

  /** sizeof and the field offsets of struct `name` (natural alignment, as the C++ ABI lays out plain structs). */
  layout(name: string): { size: number; offsets: Values } {
    const def = one(this.structs, name, 'struct');
    const offsets: Values = {};
    let at = 0;
    let maxAlign = 1;
    for (const decl of def.body.split(';')) {
      if (decl.trim() === '') continue;
      const f = /^\s*([\w:]+)\s+(\w+)\s*(?:\[([^\]]+)\])?\s*$/.exec(decl);
      if (f === null) throw new Error(`${def.file}: struct ${name}: cannot read the field "${decl.trim()}"`);
      const [, type, field, count] = f;
      const size = SCALAR_SIZES[type];
      if (size === undefined) throw new Error(`${def.file}: struct ${name}.${field}: unknown type ${type}`);
      at = Math.ceil(at / size) * size;
      offsets[field] = at;
      at += size * (count === undefined ? 1 : this.evaluate(count, new Map(), `${def.file} ${name}.${field}[]`));
      maxAlign = Math.max(maxAlign, size);
    }
    return { size: Math.ceil(at / maxAlign) * maxAlign, offsets };
  }

  /** A constexpr or an unscoped enum member, by its C++ name. */
  symbol(name: string, where: string): number {
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    const scoped = /^(\w+)::(\w+)$/.exec(name);
    let value: number | undefined;
    if (scoped !== null) {
      const members = this.enumValues(scoped[1]);
      value = members[dropK(scoped[2], name)];
    } else {
      const defs = this.constants.get(name);
      if (defs !== undefined) {
        if (defs.length > 1) throw new Error(`${name} is defined ${defs.length} times (${defs.map((d) => d.file).join(', ')})`);
        value = this.evaluate(defs[0].expr, new Map(), `${defs[0].file} ${name}`);
      } else {
        for (const [enumName, defsOfEnum] of this.enums) {
          if (defsOfEnum.some((d) => !d.scoped && d.members.some(([m]) => m === name))) {
            value = this.enumValues(enumName)[dropK(name, name)];
          }
        }
      }
    }
    if (value === undefined) throw new Error(`${where}: unknown name ${name}`);
    this.cache.set(name, value);
    return value;
  }

  /** Integer constant expressions: names, numbers, + - * / and parentheses. */
  evaluate(expr: string, own: Map<string, number>, where: string): number {
    const tokens = expr.match(/\w+(?:::\w+)*|[-+*/()]|\S/g) ?? [];
    let i = 0;
    const primary = (): number => {
      const t = tokens[i++];
      if (t === undefined) throw new Error(`${where}: incomplete expression "${expr}"`);
      if (t === '(') {
        const v = sum();
        if (tokens[i++] !== ')') throw new Error(`${where}: unbalanced "${expr}"`);
        return v;
      }
      if (t === '-') return -primary();
      if (t === '+') return primary();
      const literal = /^(0x[0-9a-f]+|\d+)(?:[uUlL]*)$/i.exec(t);
      if (literal !== null) return Number(literal[1]);
      if (/^[A-Za-z_]\w*(::\w+)*$/.test(t)) return own.get(t) ?? this.symbol(t, where);
      throw new Error(`${where}: cannot evaluate "${expr}"`);
    };
    const product = (): number => {
      let v = primary();
      while (tokens[i] === '*' || tokens[i] === '/') v = tokens[i++] === '*' ? v * primary() : Math.trunc(v / primary());
      return v;
    };
    const sum = (): number => {
      let v = product();
      while (tokens[i] === '+' || tokens[i] === '-') v = tokens[i++] === '+' ? v + product() : v - product();
      return v;
    };
    const v = sum();
    if (i !== tokens.length) throw new Error(`${where}: cannot evaluate "${expr}"`);
    return v;
  }
}

const SCALAR_SIZES: Record<string, number> = {
  int8_t: 1,
  uint8_t: 1,
  int16_t: 2,
  uint16_t: 2,
  int32_t: 4,
  uint32_t: 4,
  int64_t: 8,
  uint64_t: 8,
};

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

function one<T extends { file: string }>(map: Map<string, T[]>, name: string, what: string): T {
  const defs = map.get(name) ?? [];
  if (defs.length !== 1) {
    throw new Error(
      defs.length === 0
        ? `no ${what} ${name} in native/*.h`
        : `${what} ${name} is defined ${defs.length} times (${defs.map((d) => d.file).join(', ')}): keep one`,
    );
  }
  return defs[0];
}

function dropK(name: string, where: string): string {
  if (!/^k[A-Z]/.test(name)) throw new Error(`${where}: a shared C++ name starts with k and a capital (got ${name})`);
  return name.slice(1);
}

/** kMinPacketSize -> MIN_PACKET_SIZE (without the k). */
function screamingSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/**
 * Differences between `cxx` and `ts` (whose members are `tsLabel`.name),
 * both ways, one line per name; `cxxName` spells a name the C++ way.
 */
function compare(cxxName: (name: string) => string, cxx: Values, tsLabel: string, ts: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [name, v] of Object.entries(cxx)) {
    if (!(name in ts)) problems.push(`${cxxName(name)} = ${v} has no TypeScript ${tsLabel}.${name}`);
    else if (ts[name] !== v) problems.push(`${cxxName(name)} = ${v} but ${tsLabel}.${name} = ${String(ts[name])}`);
  }
  for (const name of Object.keys(ts)) {
    if (!(name in cxx)) problems.push(`${tsLabel}.${name} has no ${cxxName(name)}`);
  }
  return problems;
}

/** A member of enum `name` of `file`, as C++ spells it. */
function member(file: string, name: string): (m: string) => string {
  return (m) => `native/${file} ${name}::k${m}`;
}

/** The numeric members of a TypeScript (non-const) enum object. */
function enumMembers(e: Record<string, string | number>): Values {
  const out: Values = {};
  for (const [k, v] of Object.entries(e)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** The results of native open(): DecodeStatus passes them through unchanged. */
const OPEN_RESULTS = ['Ok', 'TooSmall', 'TooLarge', 'BadHash', 'BadSignature'];

/** `obj`'s own values for `names` (absent ones left out). */
function pick(obj: Record<string, unknown>, names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) if (n in obj) out[n] = obj[n];
  return out;
}

/** The wire sizes of src/wire/types.ts, by name (HASH_SIZE...). */
function wireSizes(): Record<string, unknown> {
  return wireTypes as unknown as Record<string, unknown>;
}

/** Every disagreement between the headers and the TypeScript definitions. */
function headerProblems(headers: Headers): string[] {
  const h = new HeaderModel(headers);
  const problems: string[] = [];
  const status = h.enumValues('Status');
  const statusName = member(h.enumDef('Status').file, 'Status');
  problems.push(...compare(statusName, status, 'NativeStatus', NATIVE_CONTRACT.Status));
  // DecodeStatus shares open()'s results with the native Status.
  const decode = enumMembers(DecodeStatus as unknown as Record<string, string | number>);
  for (const name of OPEN_RESULTS) {
    if (!(name in status)) problems.push(`${statusName(name)} (a result of open) is missing`);
    else if (decode[name] !== status[name]) {
      problems.push(`${statusName(name)} = ${status[name]} but DecodeStatus.${name} = ${String(decode[name])}`);
    }
  }
  for (const name of ['SendResult', 'RecordStatus', 'UdpLimit'] as const) {
    problems.push(...compare(member(h.enumDef(name).file, name), h.enumValues(name), name, NATIVE_CONTRACT[name]));
  }
  // The datagram record: field offsets by field name (Off <-> off), Size <-> sizeof.
  const meta = h.layout('Meta');
  const record: Values = { Size: meta.size };
  for (const [field, off] of Object.entries(meta.offsets)) {
    if (!field.startsWith('reserved')) record[field[0].toUpperCase() + field.slice(1)] = off;
  }
  const field = (n: string): string =>
    n === 'Size' ? 'native/udp.h sizeof(Meta)' : `native/udp.h offsetof(Meta, ${n[0].toLowerCase()}${n.slice(1)})`;
  problems.push(...compare(field, record, 'DatagramRecord', NATIVE_CONTRACT.Meta));
  // core.h sizes <-> src/wire/types.ts (kHashSize <-> HASH_SIZE).
  const wire = wireSizes();
  for (const [name, v] of Object.entries(h.constantsOf('core.h'))) {
    const ts = screamingSnake(name);
    if (!(ts in wire)) problems.push(`native/core.h k${name} = ${v} has no src/wire/types.ts ${ts}`);
    else if (wire[ts] !== v) problems.push(`native/core.h k${name} = ${v} but src/wire/types.ts ${ts} = ${String(wire[ts])}`);
  }
  return problems;
}

/** Every disagreement between the loaded addon's `contract` and the TypeScript definitions. */
function addonProblems(contract: unknown): string[] {
  const problems: string[] = [];
  const mismatch = nativeContractMismatch(contract);
  if (mismatch !== undefined) problems.push(mismatch);
  const packet = (contract as { Packet?: Values }).Packet;
  if (packet === undefined) return [...problems, 'the addon exports no Packet sizes'];
  const wire = wireSizes();
  const wireName: Values = {};
  for (const [name, v] of Object.entries(packet)) wireName[screamingSnake(name)] = v;
  problems.push(...compare((n) => `the addon's contract.Packet ${n}`, wireName, 'src/wire/types.ts', pick(wire, Object.keys(wireName))));
  return problems;
}

/**
 * native-socket.ts reads records and send results by the names in
 * src/crypto/native.ts; a META_* / STATUS_* / SEND_* constant set to a
 * number literal there would be a second, unchecked definition.
 */
function nativeSocketProblems(source: string): string[] {
  const problems: string[] = [];
  for (const m of stripComments(source).matchAll(/\bconst\s+((?:META|STATUS|SEND)_\w+)\s*=\s*(-?\d+)\s*;/g)) {
    problems.push(`native-socket.ts ${m[1]} = ${m[2]}: a literal copy of a native number (import it from src/crypto/native.ts)`);
  }
  return problems;
}

function assertNone(problems: string[]): void {
  assert.equal(problems.length, 0, `native/TypeScript contract broken:\n  ${problems.join('\n  ')}`);
}

/** headers with one file's text replaced via `edit` (which must change it). */
function edited(headers: Headers, file: string, edit: (text: string) => string): Headers {
  const text = edit(headers[file]);
  assert.notEqual(text, headers[file], `the edit of ${file} changed nothing`);
  return { ...headers, [file]: text };
}

describe('native contract: native/*.h, the addon and src/ agree by name', () => {
  const headers = readHeaders();

  it('the headers define each shared enum and record once', () => {
    const h = new HeaderModel(headers);
    for (const name of ['Status', 'SendResult', 'RecordStatus', 'UdpLimit']) h.enumDef(name);
    h.layout('Meta');
    assert.deepEqual(Object.keys(NATIVE_CONTRACT).sort(), ['Meta', 'RecordStatus', 'SendResult', 'Status', 'UdpLimit']);
  });

  it('core.h Status, udp.h SendResult / RecordStatus / UdpLimit / Meta and the core.h sizes match src/', () => {
    assertNone(headerProblems(headers));
  });

  it('the loaded addon exports the same values (and the load check accepts them)', () => {
    assertNone(addonProblems(native.contract));
    checkNativeContract(native.contract);
  });

  it('native-socket.ts takes the record layout and send codes from src/crypto/native.ts, with no literal copies', () => {
    assertNone(nativeSocketProblems(fs.readFileSync(NATIVE_SOCKET_TS, 'utf8')));
  });

  it("the pure-JS test backend's Status matches NativeStatus", () => {
    assertNone(compare((n) => `test/helpers/noble-crypto.ts Status.${n}`, { ...NobleStatus }, 'NativeStatus', NATIVE_CONTRACT.Status));
  });

  describe('the checks fail, naming the code', () => {
    it('a changed Status value', () => {
      const bad = edited(headers, 'core.h', (t) => t.replace(/kTooLarge = 2\b/, 'kTooLarge = 7'));
      const problems = headerProblems(bad);
      assert.ok(problems.some((p) => /Status::kTooLarge = 7 but NativeStatus\.TooLarge = 2/.test(p)), problems.join('\n'));
      assert.ok(problems.some((p) => /TooLarge = 7 but DecodeStatus\.TooLarge = 2/.test(p)), problems.join('\n'));
    });

    it('reordered members with unchanged values still pass (by name, not position)', () => {
      const bad = edited(headers, 'core.h', (t) => {
        const a = /^\s*kBadHash = 3,.*$/m.exec(t)![0];
        const b = /^\s*kBadSignature = 4,.*$/m.exec(t)![0];
        return t.replace(a, '\u0000').replace(b, a).replace('\u0000', b);
      });
      assertNone(headerProblems(bad));
    });

    it('a send code removed, renamed or added', () => {
      let problems = headerProblems(edited(headers, 'udp.h', (t) => t.replace(/^\s*kDropped = 2,.*$/m, '')));
      assert.ok(problems.some((p) => /SendResult\.Dropped has no native\/udp\.h SendResult::kDropped/.test(p)), problems.join('\n'));
      problems = headerProblems(edited(headers, 'udp.h', (t) => t.replace(/\bkQueued = 1\b/, 'kCopied = 1')));
      assert.ok(problems.some((p) => /SendResult::kCopied = 1 has no TypeScript SendResult\.Copied/.test(p)), problems.join('\n'));
      problems = headerProblems(edited(headers, 'udp.h', (t) => t.replace(/\bkSkip = -2\b/, 'kSkip = -3')));
      assert.ok(problems.some((p) => /RecordStatus::kSkip = -3 but RecordStatus\.Skip = -2/.test(p)), problems.join('\n'));
    });

    it('a moved or resized record field', () => {
      let problems = headerProblems(
        edited(headers, 'udp.h', (t) => t.replace(/int32_t family;(.*)\n(\s*)int32_t port;/, 'int32_t port;\n$2int32_t family;$1')),
      );
      assert.ok(problems.some((p) => /offsetof\(Meta, family\) = 12 but DatagramRecord\.Family = 8/.test(p)), problems.join('\n'));
      assert.ok(problems.some((p) => /offsetof\(Meta, port\) = 8 but DatagramRecord\.Port = 12/.test(p)), problems.join('\n'));
      problems = headerProblems(edited(headers, 'udp.h', (t) => t.replace('int32_t reserved[3];', 'int32_t reserved[4];')));
      assert.ok(problems.some((p) => /offsetof\(Meta, id\) = 52 but DatagramRecord\.Id = 48/.test(p)), problems.join('\n'));
      assert.ok(problems.some((p) => /sizeof\(Meta\) = 116 but DatagramRecord\.Size = 112/.test(p)), problems.join('\n'));
    });

    it('a changed packet size, and a second definition of a shared enum', () => {
      const problems = headerProblems(edited(headers, 'core.h', (t) => t.replace('kMaxPacketSize = 1280', 'kMaxPacketSize = 1500')));
      assert.ok(problems.some((p) => /kMaxPacketSize = 1500 but src\/wire\/types\.ts MAX_PACKET_SIZE = 1280/.test(p)), problems.join('\n'));
      const twice = edited(headers, 'pool.h', (t) => `${t}\nenum class SendResult : int32_t { kSent = 0 };\n`);
      assert.throws(() => headerProblems(twice), /enum SendResult is defined 2 times \(pool\.h, udp\.h\)/);
    });

    it('an addon with a different, missing or extra value (the load check)', () => {
      const copy = JSON.parse(JSON.stringify(native.contract)) as Record<string, Values>;
      copy.SendResult.Dropped = 3;
      assert.throws(() => checkNativeContract(copy), /SendResult\.Dropped is 3 in the addon but 2 in TypeScript/);
      const missing = JSON.parse(JSON.stringify(native.contract)) as Record<string, Values>;
      delete missing.Meta.Id;
      assert.match(nativeContractMismatch(missing) ?? '', /Meta\.Id is undefined in the addon but 48/);
      const extra = JSON.parse(JSON.stringify(native.contract)) as Record<string, Values>;
      extra.Status.Busy = 7;
      assert.match(nativeContractMismatch(extra) ?? '', /Status\.Busy has no TypeScript definition/);
      assert.throws(() => checkNativeContract(undefined), /no `contract` export/);
      const packet = JSON.parse(JSON.stringify(native.contract)) as Record<string, Values>;
      packet.Packet.HeadSize = 96;
      assert.ok(addonProblems(packet).some((p) => /contract\.Packet HEAD_SIZE = 96 but src\/wire\/types\.ts\.HEAD_SIZE = 97/.test(p)));
    });

    it('a literal copy in native-socket.ts', () => {
      const src = 'const META_WORDS = DatagramRecord.Size / 4;\nconst SEND_DROPPED = 2;\n';
      assert.deepEqual(nativeSocketProblems(src), [
        'native-socket.ts SEND_DROPPED = 2: a literal copy of a native number (import it from src/crypto/native.ts)',
      ]);
    });
  });
});

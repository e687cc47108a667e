/**
 * The long fuzz run (issue #10, "Hostile traffic"): hostile datagrams of
 * every kind (test/fuzz/helpers.ts DATAGRAM_KINDS: valid packets of all six
 * types, raw and re-sealed mutations, random bytes of 0..2000, RLP headers
 * claiming up to 2^64 bytes, deep nesting, junk signatures), plus replies
 * (some mutated) to what the transport sent and requests of its own, through
 *
 * - the decoder: readPacket at an offset in a sentinel-filled buffer against
 *   decodePacket (only DecodeError, codes from DECODE_ERROR_CODES, nothing
 *   read outside the datagram), and
 * - two live Transports on in-memory sockets (one verifying datagrams
 *   itself, one getting them verified by its socket, as the native socket
 *   does), fed through their datagram handler: each datagram must end as
 *   exactly one counted drop or one accepted packet, with the same verdict
 *   the decoder reached, and no handler error.
 *
 *   node --expose-gc --import tsx scripts/fuzz.ts [--count N] [--seconds S] [--seed X] [--json FILE]
 *
 * (`npx tsx scripts/fuzz.ts` re-runs itself with --expose-gc.) Default:
 * 1,000,000 datagrams; with --seconds it stops at whichever comes first.
 * Fails (exit 1) on a broken property, an uncaught exception or unhandled
 * rejection anywhere in the process, or heap growth above --max-growth-mib
 * (default 4) between the end of the warm-up and the end of the run, both
 * measured after forced GCs with every request's deadline past.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { DECODE_ERROR_CODES, DecodeStatus } from '../src';
import { FuzzInput, SeededRng, TransportFuzzer, applyInput, checkDecoder, fuzzInput } from '../test/fuzz/helpers';

interface Options {
  count: number;
  seconds: number;
  seed: number;
  json?: string;
  maxGrowthMiB: number;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { count: 1_000_000, seconds: Infinity, seed: (Math.random() * 2 ** 32) >>> 0, maxGrowthMiB: 4 };
  let countGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const num = (): number => {
      const n = Number(v);
      if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${a} needs a non-negative number`);
      i++;
      return n;
    };
    if (a === '--count') {
      opts.count = Math.floor(num());
      countGiven = true;
    } else if (a === '--seconds') opts.seconds = num();
    else if (a === '--seed') opts.seed = num() >>> 0;
    else if (a === '--max-growth-mib') opts.maxGrowthMiB = num();
    else if (a === '--json') {
      if (v === undefined) throw new Error('--json needs a file name');
      opts.json = v;
      i++;
    } else if (a === '--help' || a === '-h') {
      console.log('usage: node --expose-gc --import tsx scripts/fuzz.ts [--count N] [--seconds S] [--seed X] [--max-growth-mib M] [--json FILE]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  // --seconds alone runs for that long, however many datagrams that is.
  if (opts.seconds !== Infinity && !countGiven) opts.count = Number.MAX_SAFE_INTEGER;
  return opts;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** heapUsed after full collections (settled: two passes, finalizers in between). */
async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(2)} MiB`;

function bump(m: Map<string, number>, key: string, by = 1): void {
  m.set(key, (m.get(key) ?? 0) + by);
}

function sorted(m: Map<string, number>): Array<[string, number]> {
  return [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const escaped: string[] = [];
  process.on('uncaughtException', (err) => escaped.push(`uncaughtException: ${err?.stack ?? String(err)}`));
  process.on('unhandledRejection', (err) => escaped.push(`unhandledRejection: ${(err as Error)?.stack ?? String(err)}`));

  const rng = new SeededRng(opts.seed);
  const fuzzers = [new TransportFuzzer(), new TransportFuzzer()];
  const settle = (ms: number) => Promise.all(fuzzers.map((f) => f.settle(ms)));
  // Each transport sees half the inputs; every 200 inputs 100 ms of (fake) time pass,
  // so replies are 500 ms = 1,000 inputs late at most and requests time out.
  const SETTLE_EVERY = 200;
  const warmup = Math.min(50_000, Math.floor(opts.count / 10));

  console.log(`fuzz: seed ${opts.seed}, ${opts.count === Number.MAX_SAFE_INTEGER ? 'no count limit' : `${opts.count.toLocaleString('en')} datagrams`}` +
    `${opts.seconds === Infinity ? '' : `, at most ${opts.seconds} s`}, warm-up ${warmup.toLocaleString('en')}`);
  const heapStart = await heapAfterGc();
  let heapWarm = heapStart;
  let warmedUp = warmup === 0;

  const byKind = new Map<string, number>();
  const decoderByKind = new Map<string, number>();
  const decoderStatus = new Map<string, number>();
  let datagrams = 0;
  let requests = 0;
  let failure: string | undefined;
  const t0 = performance.now();
  let lastReport = t0;
  const deadline = opts.seconds === Infinity ? Infinity : t0 + opts.seconds * 1000;

  let i = 0;
  for (; datagrams < opts.count && performance.now() < deadline; i++) {
    const f = fuzzers[i & 1];
    let input: FuzzInput | undefined;
    try {
      input = fuzzInput(rng, f);
      if ('datagram' in input) {
        // The decoder on its own: at an offset in junk, against decodePacket.
        const fill = rng.int(0, 255);
        const dec = checkDecoder(input.datagram, f.nowSecExact, rng.int(0, 64), [fill]);
        const code = DECODE_ERROR_CODES[dec.status];
        bump(decoderByKind, `${input.kind.padEnd(16)} ${code}`);
        bump(decoderStatus, code);
        // The same datagram through a live transport's handler: the verdict must agree.
        const out = applyInput(f, input)!;
        const want = dec.status === DecodeStatus.Ok ? 'accepted:' : `drop:${code.toLowerCase()}`;
        if (!out.verdict.startsWith(want)) throw new Error(`the decoder said ${code}, the transport ${out.verdict}`);
        datagrams++;
      } else {
        applyInput(f, input);
        requests++;
      }
      bump(byKind, input.kind);
      if (escaped.length > 0) throw new Error(escaped[0]);
    } catch (err) {
      const d = input !== undefined && 'datagram' in input ? input : undefined;
      failure =
        `input ${i} (${input?.kind ?? '?'}) failed: ${(err as Error)?.stack ?? String(err)}` +
        (d === undefined ? '' : `\n  datagram (${d.datagram.length} bytes, from ${d.ip.join(d.ip.length === 4 ? '.' : ',')}:${d.port}): ${d.datagram.toString('hex')}`) +
        `\n  reproduce: node --expose-gc --import tsx scripts/fuzz.ts --seed ${opts.seed} --count ${datagrams + 1}`;
      break;
    }
    if (i % SETTLE_EVERY === SETTLE_EVERY - 1) {
      try {
        await settle(100);
      } catch (err) {
        failure = `after input ${i}: ${(err as Error)?.stack ?? String(err)}`;
        break;
      }
    }
    if (!warmedUp && datagrams >= warmup) {
      warmedUp = true;
      await settle(10_000);
      heapWarm = await heapAfterGc();
      console.log(`  warm-up done after ${datagrams.toLocaleString('en')} datagrams: heap ${mib(heapWarm)} (start ${mib(heapStart)})`);
    }
    const now = performance.now();
    if (now - lastReport >= 10_000) {
      lastReport = now;
      const s = (now - t0) / 1000;
      const pct = opts.count === Number.MAX_SAFE_INTEGER ? '' : ` (${((100 * datagrams) / opts.count).toFixed(1)} %)`;
      console.log(
        `  ${datagrams.toLocaleString('en')} datagrams${pct}, ${s.toFixed(0)} s, ${Math.round(datagrams / s).toLocaleString('en')}/s, ` +
          `heap ${mib(process.memoryUsage().heapUsed)}, pending ${fuzzers.map((x) => x.t.stats().pending).join('+')}, bonds ${fuzzers.map((x) => x.t.stats().bonds).join('+')}`,
      );
    }
  }
  const elapsed = (performance.now() - t0) / 1000;

  // Past every deadline, then measure.
  if (failure === undefined) {
    try {
      await settle(10_000);
      await settle(10_000);
      for (const f of fuzzers) f.checkBounds();
    } catch (err) {
      failure = `final check: ${(err as Error)?.stack ?? String(err)}`;
    }
  }
  const heapEnd = await heapAfterGc();
  const growth = heapEnd - heapWarm;
  if (failure === undefined && escaped.length > 0) failure = escaped[0];
  if (failure === undefined && growth > opts.maxGrowthMiB * 2 ** 20) {
    failure = `heap grew by ${mib(growth)} after the warm-up (limit ${opts.maxGrowthMiB} MiB)`;
  }

  const outcomes = new Map<string, number>();
  const replyDrops = new Map<string, number>();
  const requestEnds = new Map<string, number>();
  for (const f of fuzzers) {
    for (const [k, v] of f.outcomes) bump(outcomes, k, v);
    for (const [k, v] of f.replyDrops) bump(replyDrops, k, v);
    for (const [k, v] of f.requests) bump(requestEnds, k, v);
  }
  const stats = fuzzers.map((f) => f.t.stats());
  for (const f of fuzzers) await f.close();

  const line = (k: string, v: number, total: number) => `    ${k.padEnd(58)} ${v.toLocaleString('en').padStart(11)}  ${((100 * v) / total).toFixed(2).padStart(6)} %`;
  console.log(`\nfuzz summary (seed ${opts.seed})`);
  console.log(`  datagrams            ${datagrams.toLocaleString('en')} in ${elapsed.toFixed(1)} s (${Math.round(datagrams / elapsed).toLocaleString('en')}/s), plus ${requests.toLocaleString('en')} requests of the transports' own`);
  console.log('  inputs by kind:');
  for (const [k, v] of sorted(byKind)) console.log(line(k, v, datagrams + requests));
  console.log('  decoder verdicts:');
  for (const [k, v] of sorted(decoderStatus)) console.log(line(k, v, datagrams));
  console.log('  decoder verdicts by kind:');
  for (const [k, v] of [...decoderByKind].sort((a, b) => a[0].localeCompare(b[0]))) console.log(line(k, v, datagrams));
  console.log('  transport outcomes (both transports; one per datagram: dropped before handling, accepted then dropped, or handled):');
  for (const [k, v] of sorted(outcomes)) console.log(line(k, v, datagrams));
  console.log(`  replies not sent by handled packets: ${replyDrops.size === 0 ? 'none' : sorted(replyDrops).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log('  requests of the transports and how they ended:');
  for (const [k, v] of sorted(requestEnds)) console.log(`    ${k.padEnd(58)} ${v.toLocaleString('en').padStart(11)}`);
  console.log(`  packets sent         ${stats.map((s) => Object.values(s.packetsOut).reduce((a, b) => a + b, 0)).join(' + ')}`);
  console.log(`  handler errors       ${stats.map((s) => s.drops.handler_error).join(' + ')}; uncaught exceptions/rejections: ${escaped.length}`);
  const warmText = warmedUp ? `after warm-up ${mib(heapWarm)}` : 'warm-up not reached (growth measured from the start)';
  console.log(`  heap (after GC)      start ${mib(heapStart)}, ${warmText}, end ${mib(heapEnd)}: ${growth >= 0 ? '+' : ''}${mib(growth)} since warm-up, ${heapEnd - heapStart >= 0 ? '+' : ''}${mib(heapEnd - heapStart)} since start`);
  if (opts.json !== undefined) {
    fs.writeFileSync(
      opts.json,
      JSON.stringify(
        {
          seed: opts.seed,
          datagrams,
          requests,
          seconds: elapsed,
          perSec: datagrams / elapsed,
          byKind: Object.fromEntries(byKind),
          decoder: Object.fromEntries(decoderStatus),
          decoderByKind: Object.fromEntries(decoderByKind),
          outcomes: Object.fromEntries(outcomes),
          replyDrops: Object.fromEntries(replyDrops),
          requestEnds: Object.fromEntries(requestEnds),
          heap: { start: heapStart, warm: heapWarm, end: heapEnd },
          failure: failure ?? null,
        },
        null,
        2,
      ),
    );
  }
  if (failure !== undefined) {
    console.error(`\nFAIL: ${failure}`);
    return 1;
  }
  console.log('\nOK: no exception escaped, every datagram counted once, decoder and transports agree');
  return 0;
}

if (gc === undefined) {
  // Heap numbers need forced GCs: run again under --expose-gc with the same loader.
  const r = spawnSync(process.execPath, ['--expose-gc', '--require', require.resolve('tsx/cjs'), __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

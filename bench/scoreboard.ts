/**
 * The scoreboard: one table from the micro suites and the loopback run,
 * each figure median (min-max) over the repeats, with our ratio to
 * @ethereumjs/devp2p and to the crypto limit measured in the same run,
 * and the targets marked met / MISSED.
 *
 * Crypto limit = 1 / (1/recover + 1/sign) with our binding's ops/s: what
 * one core can do if a pong cost nothing but its crypto (recover the
 * ping's sender, sign the pong). A full-path bond costs twice that (ping
 * and pong in, pong and ping-back out), so its limit is half.
 */
import type { MicroSuite } from './micro';
import { fmtInt, FOREIGN_WARN_CORES, ImplResult, LoopbackResult, median, medianOrNull } from './loopback';
import { SCALE_MAX_SLOWDOWN, type ScaleResult } from './loopback/scale';

/** median (min-max) of one figure over the repeats. */
export interface Fig {
  median: number;
  min: number;
  max: number;
}

export function figOf(xs: number[]): Fig {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

/** ops/s of one case per repeat. */
export interface MicroStat {
  suite: string;
  library: string;
  ops: Fig;
  runs: number[];
}

export interface ScoreRow {
  operation: string;
  /** Our figure and ethjs's, as numbers (units in `unit`) and as printed. */
  ours: Fig | null;
  ethjs: Fig | null;
  unit: string;
  oursText: string;
  ethjsText: string;
  /** ours / ethjs (for lower-is-better figures: ethjs / ours, printed "x less"). */
  ratioVsEthjs: number | null;
  ratioText: string;
  ratioVsCryptoLimit: number | null;
  limitText: string;
  target: string | null;
  meetsTarget: boolean | null;
}

/** Targets of the codec issue for the micro suites (one core of the 2-vCPU reference machine). */
export const MICRO_TARGETS: Record<string, number> = {
  'open+decode ping': 14_000,
  'encode+seal pong': 20_000,
};
/** Issue #9: pongs/s of our 1-thread node against the crypto limit. */
export const TARGET_ONE_THREAD_OF_LIMIT = 0.8;
/** Issue #9: pongs/s with all threads against the 1-thread figure of the same run. */
export const TARGET_ALL_THREADS_SPEEDUP = 1.7;

const fmtFig = (f: Fig, digits = 0) =>
  digits === 0 ? `${fmtInt(f.median)} (${fmtInt(f.min)}-${fmtInt(f.max)})` : `${f.median.toFixed(digits)} (${f.min.toFixed(digits)}-${f.max.toFixed(digits)})`;
const pct = (x: number) => `${Math.round(x * 100)} %`;
const times = (x: number) => `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}x`;
const timesOrDash = (x: number | null) => (x === null ? '-' : times(x));

function row(p: Partial<ScoreRow> & { operation: string }): ScoreRow {
  return {
    ours: null,
    ethjs: null,
    unit: 'ops/s',
    oursText: '-',
    ethjsText: '-',
    ratioVsEthjs: null,
    ratioText: '-',
    ratioVsCryptoLimit: null,
    limitText: '-',
    target: null,
    meetsTarget: null,
    ...p,
  };
}

/** 1 / (1/recover + 1/sign); the range pairs the two minima and the two maxima. */
export function cryptoLimitOf(sign: Fig, recover: Fig): Fig {
  const f = (s: number, r: number) => 1 / (1 / r + 1 / s);
  return { median: f(sign.median, recover.median), min: f(sign.min, recover.min), max: f(sign.max, recover.max) };
}

export interface ScoreboardInput {
  suites: MicroSuite[];
  micro: MicroStat[];
  loopback: LoopbackResult | null;
  /** The bootnode-at-scale findnode run (bench/loopback/scale.ts), when it ran. */
  scale?: ScaleResult | null;
  /** CPU other processes used while each micro suite ran (bench/interference.ts). */
  microForeign?: Array<{ what: string; cores: number | null }>;
}

export interface Scoreboard {
  rows: ScoreRow[];
  /** Ours (native binding) and ethjs's (its own sign/recover), pongs/s per core. */
  cryptoLimit: Fig | null;
  ethjsCryptoLimit: Fig | null;
  notes: string[];
}

function stat(micro: MicroStat[], suite: string, library: string | undefined): MicroStat | undefined {
  return library === undefined ? undefined : micro.find((m) => m.suite === suite && m.library === library);
}

function threadsTag(i: ImplResult): string {
  return i.threads === undefined ? i.label : `${i.threads} thread${i.threads === 1 ? '' : 's'}`;
}

/**
 * One note on how much CPU other processes took during the measured
 * intervals, naming the worst ones: figures measured beside a compiler or
 * a test suite are low, and the reader should know.
 */
function interferenceNote(intervals: Array<{ what: string; cores: number | null }>): string | null {
  const xs = intervals.filter((x): x is { what: string; cores: number } => x.cores !== null);
  if (xs.length === 0) return null;
  const mean = xs.reduce((a, x) => a + x.cores, 0) / xs.length;
  const bad = xs.filter((x) => x.cores > FOREIGN_WARN_CORES).sort((a, b) => b.cores - a.cores);
  const worst = Math.max(...xs.map((x) => x.cores));
  if (bad.length === 0) {
    return `Other processes used ${mean.toFixed(2)} cores on average (at most ${worst.toFixed(2)}) during the ${xs.length} measured intervals: the machine was otherwise quiet.`;
  }
  const named = bad.slice(0, 5).map((x) => `${x.what} ${x.cores.toFixed(2)}`).join('; ');
  return (
    `DISTURBED: other processes used more than ${FOREIGN_WARN_CORES} cores during ${bad.length} of ${xs.length} measured intervals ` +
    `(mean over all ${mean.toFixed(2)}; worst: ${named}${bad.length > 5 ? '; ...' : ''}); those figures are low.`
  );
}

export function buildScoreboard(input: ScoreboardInput): Scoreboard {
  const sb = buildMicroAndLoopback(input);
  if (input.scale) {
    const s = scalePart(input.scale);
    sb.rows.push(...s.rows);
    sb.notes.push(...s.notes);
  }
  return sb;
}

/**
 * Issue #19's rows: per case, findnode answers/s (the 1024-per-bucket ones
 * against their 16-per-bucket twin, < 2x slower), server CPU per answer and
 * server RSS; a note on the table shapes and the machine's other load.
 */
function scalePart(r: ScaleResult): { rows: ScoreRow[]; notes: string[] } {
  const rows: ScoreRow[] = [];
  const figs = (xs: Array<number | null>) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length ? figOf(v) : null;
  };
  for (const c of r.cases) {
    const tag = `${c.bucketSize}/bucket${c.known > 0 ? ` + ${fmtInt(c.known)} known` : ''}, fork ${c.forkFilter}; table ${c.prefill ? fmtInt(c.prefill.tableEntries) : '?'}`;
    const answers = figs(c.runs.map((x) => x.answersPerSec));
    const v = c.bucketSize > 16 ? r.verdicts.find((x) => x.forkFilter === c.forkFilter) : undefined;
    const failed = c.error !== undefined ? `FAILED: ${c.error}` : 'no result';
    rows.push(
      row({
        operation: `bootnode findnode answers/s, window ${r.window} [${tag}]`,
        ours: answers,
        unit: 'answers/s',
        oursText: answers ? fmtFig(answers) : failed,
        target: v === undefined ? null : `< ${SCALE_MAX_SLOWDOWN}x slower than 16/bucket (${v.slowdown === null ? '?' : `${v.slowdown.toFixed(2)}x`}): ${v.met === null ? 'not measured' : v.met ? 'met' : 'MISSED'}`,
        meetsTarget: v === undefined ? null : v.met,
      }),
    );
    const cpu = figs(c.runs.map((x) => x.serverCpuUsPerAnswer));
    rows.push(row({ operation: `bootnode findnode: server CPU µs per answer [${tag}]`, ours: cpu, unit: 'µs', oursText: cpu ? fmtFig(cpu) : '-' }));
    const rss = c.rssKb === undefined ? null : c.rssKb / 1024;
    rows.push(row({ operation: `bootnode server RSS, MiB [${tag}]`, ours: rss === null ? null : figOf([rss]), unit: 'MiB', oursText: rss === null ? '-' : rss.toFixed(0) }));
  }
  const shapes = r.cases
    .filter((c) => c.prefill)
    .map((c) => `${c.label}: ${fmtInt(c.prefill!.tableEntries)} entries (per bucket ${c.prefill!.perBucket.join(',')}), ${fmtInt(c.prefill!.knownNodes)} known`);
  const foreign = r.cases.flatMap((c) => c.runs.map((x) => x.foreignCpuCores)).filter((x): x is number => x !== null);
  const notes = [
    `Bootnode findnode (bench/loopback/scale.ts): a Discovery on 1 crypto thread, table prefilled with live entries until the top ${r.fullBuckets} buckets are full ` +
      `(records: 75 % our fork id, 15 % another network's, 10 % without eth); ${r.window} findnodes in flight for random targets, an answer counted at 16 nodes. ` +
      `Shapes: ${shapes.join('; ')}.` +
      (foreign.length ? ` Other processes used ${median(foreign).toFixed(2)} cores (median) during these runs.` : ''),
  ];
  return { rows, notes };
}

function buildMicroAndLoopback({ suites, micro, loopback, microForeign }: ScoreboardInput): Scoreboard {
  const rows: ScoreRow[] = [];
  const notes: string[] = [];

  // ---- micro: one row per suite
  for (const s of suites) {
    const ours = stat(micro, s.name, s.ours.name);
    const theirs = stat(micro, s.name, s.ethjs?.name);
    if (ours === undefined) continue;
    const target = MICRO_TARGETS[s.name];
    const met = target === undefined ? null : ours.ops.median >= target;
    rows.push(
      row({
        operation: s.name,
        ours: ours.ops,
        ethjs: theirs?.ops ?? null,
        oursText: fmtFig(ours.ops),
        ethjsText: theirs ? fmtFig(theirs.ops) : '-',
        ratioVsEthjs: theirs ? ours.ops.median / theirs.ops.median : null,
        ratioText: theirs ? times(ours.ops.median / theirs.ops.median) : '-',
        target: target === undefined ? null : `>= ${fmtInt(target)}: ${met ? 'met' : 'MISSED'}`,
        meetsTarget: met,
      }),
    );
  }
  const others = suites.flatMap((s) => {
    const ours = stat(micro, s.name, s.ours.name);
    return (s.others ?? [])
      .map((o) => stat(micro, s.name, o.name))
      .filter((o): o is MicroStat => o !== undefined && ours !== undefined)
      .map((o) => `${s.name}: ${o.library} ${fmtInt(o.ops.median)} (ours ${times(ours!.ops.median / o.ops.median)})`);
  });
  if (others.length) notes.push(`Other baselines, ops/s (median): ${others.join('; ')}.`);

  // ---- the crypto limit
  const sign = micro.find((m) => m.suite === 'sign (recoverable)' && m.library === 'discv4-native');
  const recover = micro.find((m) => m.suite === 'recover' && m.library === 'discv4-native');
  const eSign = micro.find((m) => m.suite === 'sign (recoverable)' && m.library === '@ethereumjs/devp2p');
  const eRecover = micro.find((m) => m.suite === 'recover' && m.library === '@ethereumjs/devp2p');
  const limit = sign && recover ? cryptoLimitOf(sign.ops, recover.ops) : null;
  const eLimit = eSign && eRecover ? cryptoLimitOf(eSign.ops, eRecover.ops) : null;
  if (limit) {
    rows.push(
      row({
        operation: 'crypto limit, one core: 1/(1/recover + 1/sign) (pongs/s)',
        ours: limit,
        ethjs: eLimit,
        unit: 'pongs/s',
        oursText: fmtFig(limit),
        ethjsText: eLimit ? fmtFig(eLimit) : '-',
        ratioVsEthjs: eLimit ? limit.median / eLimit.median : null,
        ratioText: eLimit ? times(limit.median / eLimit.median) : '-',
        ratioVsCryptoLimit: 1,
        limitText: '100 %',
      }),
    );
  }
  const intervals = [...(microForeign ?? [])];
  for (const i of loopback?.impls ?? []) {
    i.window?.runs.forEach((r, k) => intervals.push({ what: `${i.label} ping->pong run ${k + 1}`, cores: r.foreignCpuCores }));
    for (const o of i.openLoop) o.runs.forEach((r, k) => intervals.push({ what: `${i.label} open loop ${fmtInt(o.offeredPps)} run ${k + 1}`, cores: r.foreignCpuCores }));
    i.fullPath?.runs.forEach((r, k) => intervals.push({ what: `${i.label} full path run ${k + 1}`, cores: r.foreignCpuCores }));
  }
  const interferenceText = interferenceNote(intervals);
  if (interferenceText !== null) notes.push(interferenceText);
  if (loopback === null) return { rows, cryptoLimit: limit, ethjsCryptoLimit: eLimit, notes };

  // ---- loopback
  const ethjs = loopback.impls.find((i) => i.impl === 'ethjs' && i.available);
  const ours = loopback.impls.filter((i) => i.impl !== 'ethjs');
  const oneThread = ours.find((i) => i.impl === 'ours-native' && i.threads === 1);
  const vsLimit = (v: number | null, per: number) => (limit && v !== null ? v / (limit.median / per) : null);
  const ratio = (a: number | null | undefined, b: number | null | undefined) =>
    typeof a === 'number' && typeof b === 'number' && a > 0 && b > 0 ? a / b : null;

  const winFig = (i: ImplResult | undefined): Fig | null => {
    const w = i?.window;
    return w ? { median: w.medianPongsPerSec, min: w.minPongsPerSec, max: w.maxPongsPerSec } : null;
  };
  const fullFig = (i: ImplResult | undefined): Fig | null => {
    const f = i?.fullPath;
    return f && f.medianBondsPerSec !== null ? { median: f.medianBondsPerSec, min: f.minBondsPerSec!, max: f.maxBondsPerSec! } : null;
  };
  const ethWin = winFig(ethjs);
  const ethFull = fullFig(ethjs);
  const oneWin = winFig(oneThread);

  for (const i of ours) {
    const tag = threadsTag(i);
    const failed = !i.available ? 'not available' : i.error ? `failed: ${i.error}` : null;
    // ping->pong, closed loop
    const w = winFig(i);
    let target: string | null = null;
    let met: boolean | null = null;
    if (w && i === oneThread && limit) {
      const r = w.median / limit.median;
      met = r >= TARGET_ONE_THREAD_OF_LIMIT;
      target = `>= ${pct(TARGET_ONE_THREAD_OF_LIMIT)} of crypto limit (${pct(r)}): ${met ? 'met' : 'MISSED'}`;
    } else if (w && i.impl === 'ours-native' && (i.threads ?? 0) > 1 && oneWin) {
      const r = w.median / oneWin.median;
      met = r >= TARGET_ALL_THREADS_SPEEDUP;
      target = `>= ${TARGET_ALL_THREADS_SPEEDUP}x 1 thread (${r.toFixed(2)}x): ${met ? 'met' : 'MISSED'}`;
    }
    rows.push(
      row({
        operation: `loopback ping->pong, window ${loopback.window} (pongs/s) [${tag}]`,
        ours: w,
        ethjs: ethWin,
        unit: 'pongs/s',
        oursText: w ? fmtFig(w) : (failed ?? 'no result'),
        ethjsText: ethWin ? fmtFig(ethWin) : '-',
        ratioVsEthjs: ratio(w?.median, ethWin?.median),
        ratioText: timesOrDash(ratio(w?.median, ethWin?.median)),
        ratioVsCryptoLimit: vsLimit(w?.median ?? null, 1),
        limitText: w && limit ? pct(w.median / limit.median) : '-',
        target,
        meetsTarget: met,
      }),
    );
    // the full path
    const f = fullFig(i);
    const speedup = f && i !== oneThread && fullFig(oneThread) ? f.median / fullFig(oneThread)!.median : null;
    rows.push(
      row({
        operation: `loopback full path: nodes bonded/s, window ${loopback.fullPathWindow} [${tag}]`,
        ours: f,
        ethjs: ethFull,
        unit: 'bonds/s',
        oursText: f ? fmtFig(f) : (failed ?? 'no result'),
        ethjsText: ethFull ? fmtFig(ethFull) : '-',
        ratioVsEthjs: ratio(f?.median, ethFull?.median),
        ratioText: timesOrDash(ratio(f?.median, ethFull?.median)),
        ratioVsCryptoLimit: vsLimit(f?.median ?? null, 2),
        limitText: f && limit ? `${pct(f.median / (limit.median / 2))} of limit/2` : '-',
        target: speedup === null ? null : `(${speedup.toFixed(2)}x 1 thread)`,
      }),
    );
    // open loop at 5k and 20k: pongs/s received and kernel drops
    for (const rate of [5_000, 20_000]) {
      const o = i.openLoop.find((x) => x.offeredPps === rate);
      const e = ethjs?.openLoop.find((x) => x.offeredPps === rate);
      if (o === undefined && e === undefined) continue;
      const of: Fig | null = o ? { median: o.medianReceivedPerSec, min: o.minReceivedPerSec, max: o.maxReceivedPerSec } : null;
      const ef: Fig | null = e ? { median: e.medianReceivedPerSec, min: e.minReceivedPerSec, max: e.maxReceivedPerSec } : null;
      rows.push(
        row({
          operation: `loopback open loop ${fmtInt(rate)} pps offered: pongs/s received [${tag}]`,
          ours: of,
          ethjs: ef,
          unit: 'pongs/s',
          oursText: of ? fmtFig(of) : '-',
          ethjsText: ef ? fmtFig(ef) : '-',
          ratioVsEthjs: ratio(of?.median, ef?.median),
          ratioText: timesOrDash(ratio(of?.median, ef?.median)),
          ratioVsCryptoLimit: vsLimit(of?.median ?? null, 1),
          limitText: of && limit ? pct(of.median / limit.median) : '-',
        }),
      );
      const drops = (x: typeof o): Fig | null => {
        const v = x?.serverSocketDrops.filter((d): d is number => d !== null) ?? [];
        return v.length ? figOf(v) : null;
      };
      const od = drops(o);
      const ed = drops(e);
      rows.push(
        row({
          operation: `loopback open loop ${fmtInt(rate)} pps offered: kernel drops, server socket [${tag}]`,
          ours: od,
          ethjs: ed,
          unit: 'datagrams',
          oursText: od ? `${fmtFig(od)} (${o!.lossPct.toFixed(0)} % loss)` : 'n/a',
          ethjsText: ed ? `${fmtFig(ed)} (${e!.lossPct.toFixed(0)} % loss)` : 'n/a',
        }),
      );
    }
    // server CPU and memory
    const cpuRow = (what: string, usOurs: number | null | undefined, coresOurs: number | null | undefined, usEth: number | null | undefined, coresEth: number | null | undefined) => {
      const t = (us: number | null | undefined, c: number | null | undefined) => (typeof us === 'number' ? `${fmtInt(us)} µs (${c?.toFixed(2) ?? '?'} cores)` : '-');
      const r = ratio(usEth, usOurs);
      rows.push(
        row({
          operation: what,
          ours: typeof usOurs === 'number' ? { median: usOurs, min: usOurs, max: usOurs } : null,
          ethjs: typeof usEth === 'number' ? { median: usEth, min: usEth, max: usEth } : null,
          unit: 'µs',
          oursText: t(usOurs, coresOurs),
          ethjsText: t(usEth, coresEth),
          ratioVsEthjs: r,
          ratioText: r === null ? '-' : `${times(r)} less`,
        }),
      );
    };
    cpuRow(
      `server CPU per pong, ping->pong window [${tag}]`,
      i.window?.medianServerCpuUsPerPong,
      i.window?.medianServerCpuCores,
      ethjs?.window?.medianServerCpuUsPerPong,
      ethjs?.window?.medianServerCpuCores,
    );
    cpuRow(
      `server CPU per bond, full path [${tag}]`,
      i.fullPath?.medianServerCpuUsPerBond,
      i.fullPath?.medianServerCpuCores,
      ethjs?.fullPath?.medianServerCpuUsPerBond,
      ethjs?.fullPath?.medianServerCpuCores,
    );
    const rss = (x: ImplResult | undefined) => {
      if (!x?.server) return { text: '-', v: null as number | null };
      const a = x.server.maxRssKb / 1024;
      const b = x.fullPath?.maxRssKb ? x.fullPath.maxRssKb / 1024 : null;
      return { text: `${a.toFixed(0)}${b !== null ? ` (full path: ${b.toFixed(0)})` : ''}`, v: a };
    };
    const ro = rss(i);
    const re = rss(ethjs);
    const rr = ratio(re.v, ro.v);
    rows.push(
      row({
        operation: `server peak RSS, MiB [${tag}]`,
        ours: ro.v === null ? null : { median: ro.v, min: ro.v, max: ro.v },
        ethjs: re.v === null ? null : { median: re.v, min: re.v, max: re.v },
        unit: 'MiB',
        oursText: ro.text,
        ethjsText: re.text,
        ratioVsEthjs: rr,
        ratioText: rr === null ? '-' : `${times(rr)} less`,
      }),
    );
  }

  // ---- notes
  if (limit) {
    notes.push(
      `Crypto limit: 1/(1/recover + 1/sign) = ${fmtInt(limit.median)} pongs/s per core with our binding (recover ${fmtInt(recover!.ops.median)}/s, sign ${fmtInt(sign!.ops.median)}/s, same run)` +
        (eLimit ? `; ethjs's own: ${fmtInt(eLimit.median)}/s` : '') +
        `. A full-path bond verifies two packets and signs two, so its limit is half: ${fmtInt(limit.median / 2)} bonds/s per core.`,
    );
  }
  const clientBits: string[] = [];
  for (const i of loopback.impls) {
    if (!i.available) continue;
    const bits: string[] = [];
    if (i.window) bits.push(`ping->pong ${i.window.medianClientCpuCores.toFixed(2)} cores (${i.window.medianClientCpuUsPerDatagram?.toFixed(1) ?? '?'} µs/datagram)`);
    const o20 = i.openLoop.find((o) => o.offeredPps === 20_000);
    if (o20) bits.push(`open loop 20k ${o20.clientCpuCores.toFixed(2)} cores (${o20.clientCpuUsPerDatagram?.toFixed(1) ?? '?'} µs/datagram)`);
    if (i.fullPath) bits.push(`full path ${i.fullPath.medianClientCpuCores.toFixed(2)} cores (${i.fullPath.medianClientCpuUsPerDatagram?.toFixed(1) ?? '?'} µs/datagram, one sign per bond)`);
    clientBits.push(`${i.label}: ${bits.join(', ')}`);
  }
  notes.push(
    `Client CPU (the load generator shares the ${loopback.machine.availableParallelism} vCPUs with the server; ${loopback.clientSocket} sockets): ${clientBits.join('; ')}.`,
  );
  for (const i of ours) {
    if (i.impl === 'ours-native' && (i.threads ?? 1) > 1 && i.available) {
      notes.push(
        i.threadsReported == null
          ? `${i.label}: the socket reports no crypto threads (pool not in this build), so this ran like 1 thread.`
          : `${i.label}: the socket reports ${i.threadsReported} crypto thread(s).`,
      );
    }
  }
  if (ethjs?.fullPath) {
    const f = ethjs.fullPath;
    const lost = f.runs.reduce((a, r) => a + r.lost, 0);
    const repings = f.runs.reduce((a, r) => a + r.repingsAnswered, 0);
    const pongs = medianOrNull(f.runs.map((r) => r.pongsPerSec));
    notes.push(
      `ethjs full path: its DPT pings back only with shouldFindNeighbours (a separate server process), 100 ms after the ping, to the endpoint claimed in ping.from, ` +
        `at most once per claimed address:port per second (its 1 s request cache), so the client spreads fresh keys over ${loopback.fullPathSockets} source sockets. ` +
        `Measured: ${f.medianBondsPerSec === null ? '?' : fmtInt(f.medianBondsPerSec)} bonds/s ('peer:new'), pongs ${pongs === null ? '?' : fmtInt(pongs)}/s, ` +
        `${fmtInt(lost)} keys never pinged back within 2 s, ${fmtInt(repings)} re-pings of old peers answered (kbucket evictions), ${f.dptErrors ?? 0} DPT errors.`,
    );
  }
  return { rows, cryptoLimit: limit, ethjsCryptoLimit: eLimit, notes };
}

const HEAD = ['operation', 'discv4-native', '@ethereumjs/devp2p', 'vs ethjs', 'vs crypto limit', 'target'];

function cells(r: ScoreRow): string[] {
  return [r.operation, r.oursText, r.ethjsText, r.ratioText, r.limitText, r.target ?? ''];
}

/** Fixed-width text for the terminal. */
export function renderText(sb: Scoreboard): string {
  const lines = sb.rows.map(cells);
  const widths = HEAD.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmtRow = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join(' | ').trimEnd();
  return [fmtRow(HEAD), widths.map((w) => '-'.repeat(w)).join('-|-'), ...lines.map(fmtRow)].join('\n');
}

/** A GitHub-flavoured Markdown table (targets in bold). */
export function renderMarkdown(sb: Scoreboard): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out = [`| ${HEAD.join(' | ')} |`, '| --- | ---: | ---: | ---: | ---: | --- |'];
  for (const r of sb.rows) {
    const c = cells(r).map(esc);
    if (r.meetsTarget !== null) c[1] = `**${c[1]}**`;
    out.push(`| ${c.join(' | ')} |`);
  }
  return out.join('\n');
}

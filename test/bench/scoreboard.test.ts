import * as assert from 'node:assert/strict';
import { sweepChartSvg } from '../../bench/chart';
import type { ImplResult, LoopbackResult, OpenLoopResult } from '../../bench/loopback';
import type { MicroSuite } from '../../bench/micro';
import { buildScoreboard, cryptoLimitOf, figOf, MicroStat, renderMarkdown, renderText } from '../../bench/scoreboard';

const noop = () => undefined;

/** The two suites the crypto limit comes from, with made-up figures. */
const SUITES: MicroSuite[] = [
  { name: 'sign (recoverable)', ours: { name: 'discv4-native', fn: noop }, ethjs: { name: '@ethereumjs/devp2p', fn: noop } },
  { name: 'recover', ours: { name: 'discv4-native', fn: noop }, ethjs: { name: '@ethereumjs/devp2p', fn: noop } },
];

function stat(suite: string, library: string, runs: number[]): MicroStat {
  return { suite, library, ops: figOf(runs), runs };
}

// Ours: sign 30,000/s, recover 20,000/s -> limit 12,000/s. ethjs: 3,000 and 1,000 -> 750/s.
const MICRO: MicroStat[] = [
  stat('sign (recoverable)', 'discv4-native', [29_000, 30_000, 31_000]),
  stat('recover', 'discv4-native', [19_000, 20_000, 21_000]),
  stat('sign (recoverable)', '@ethereumjs/devp2p', [3_000, 3_000, 3_000]),
  stat('recover', '@ethereumjs/devp2p', [1_000, 1_000, 1_000]),
];

function openLoop(rate: number, received: number[]): OpenLoopResult {
  return {
    offeredPps: rate,
    medianReceivedPerSec: figOf(received).median,
    minReceivedPerSec: Math.min(...received),
    maxReceivedPerSec: Math.max(...received),
    serverSocketDrops: received.map(() => 0),
    lossPct: 0,
    clientCpuCores: 0.1,
    clientCpuUsPerDatagram: 3,
    runs: [],
  } as unknown as OpenLoopResult;
}

function subject(id: string, impl: ImplResult['impl'], label: string, pongs: number[], bonds: number[], threads?: number): ImplResult {
  return {
    id,
    label,
    impl,
    ...(threads !== undefined ? { threads, threadsReported: threads } : {}),
    available: true,
    window: { medianPongsPerSec: figOf(pongs).median, minPongsPerSec: Math.min(...pongs), maxPongsPerSec: Math.max(...pongs), medianClientCpuCores: 0.1, runs: [] },
    fullPath: { medianBondsPerSec: figOf(bonds).median, minBondsPerSec: Math.min(...bonds), maxBondsPerSec: Math.max(...bonds), medianClientCpuCores: 0.3, runs: [] },
    openLoop: [openLoop(5_000, [4_990, 4_995, 5_000]), openLoop(20_000, [pongs[1], pongs[1], pongs[1]])],
    durationSec: 1,
  } as unknown as ImplResult;
}

function loopback(oneThread: number, allThreads: number): LoopbackResult {
  return {
    quick: false,
    window: 64,
    fullPathWindow: 64,
    fullPathSockets: 512,
    rates: [5_000, 20_000],
    sweepSec: 2,
    repeats: 3,
    clientSocket: 'native',
    machine: { cores: 2, availableParallelism: 2, loadavg: [], node: 'v20', platform: 'linux-x64' },
    impls: [
      subject('ours-1t', 'ours-native', 'ours, 1 thread', [oneThread - 100, oneThread, oneThread + 100], [5_000, 5_100, 5_200], 1),
      subject('ours-mt', 'ours-native', 'ours, 2 threads', [allThreads - 100, allThreads, allThreads + 100], [8_000, 8_100, 8_200], 2),
      subject('ethjs', 'ethjs', '@ethereumjs/devp2p DPT & co', [600, 650, 700], [300, 320, 340]),
    ],
  } as unknown as LoopbackResult;
}

describe('bench scoreboard', () => {
  it('computes the crypto limit as 1 / (1/recover + 1/sign), pairing minima and maxima for the range', () => {
    const limit = cryptoLimitOf(figOf([29_000, 30_000, 31_000]), figOf([19_000, 20_000, 21_000]));
    assert.ok(Math.abs(limit.median - 12_000) < 1e-9);
    assert.ok(Math.abs(limit.min - 1 / (1 / 19_000 + 1 / 29_000)) < 1e-9);
    assert.ok(Math.abs(limit.max - 1 / (1 / 21_000 + 1 / 31_000)) < 1e-9);
  });

  it('marks the 1-thread target met at >= 80 % of the crypto limit and the all-threads target against 1.7x the 1-thread figure', () => {
    // 1 thread: 10,000 / 12,000 = 83 % (met); 2 threads: 16,000 / 10,000 = 1.6x (MISSED).
    const sb = buildScoreboard({ suites: SUITES, micro: MICRO, loopback: loopback(10_000, 16_000) });
    const one = sb.rows.find((r) => r.operation.startsWith('loopback ping->pong') && r.operation.endsWith('[1 thread]'))!;
    const all = sb.rows.find((r) => r.operation.startsWith('loopback ping->pong') && r.operation.endsWith('[2 threads]'))!;
    assert.equal(one.meetsTarget, true);
    assert.match(one.target!, /83 %\): met$/);
    assert.equal(all.meetsTarget, false);
    assert.match(all.target!, /1\.60x\): MISSED$/);
    assert.equal(one.oursText, '10,000 (9,900-10,100)');
    assert.equal(one.ethjsText, '650 (600-700)');
    assert.equal(one.ratioText, '15x');
    assert.ok(Math.abs(sb.cryptoLimit!.median - 12_000) < 1e-9);
    assert.ok(Math.abs(sb.ethjsCryptoLimit!.median - 750) < 1e-9);
  });

  it('compares full-path bonds with half the crypto limit (two verifies and two signs per bond)', () => {
    const sb = buildScoreboard({ suites: SUITES, micro: MICRO, loopback: loopback(10_000, 18_000) });
    const full = sb.rows.find((r) => r.operation.startsWith('loopback full path') && r.operation.endsWith('[1 thread]'))!;
    assert.ok(Math.abs(full.ratioVsCryptoLimit! - 5_100 / 6_000) < 1e-12);
    assert.equal(full.ratioText, '16x');
  });

  it('renders every row in the text and Markdown tables, targets in bold', () => {
    const sb = buildScoreboard({ suites: SUITES, micro: MICRO, loopback: loopback(10_000, 18_000) });
    const text = renderText(sb).split('\n');
    assert.equal(text.length, sb.rows.length + 2);
    const md = renderMarkdown(sb);
    assert.match(md, /\| \*\*10,000 \(9,900-10,100\)\*\* \|/);
    assert.equal(md.split('\n').length, sb.rows.length + 2);
  });

  it('says how much CPU other processes took, and names the disturbed intervals', () => {
    const quiet = buildScoreboard({ suites: SUITES, micro: MICRO, loopback: null, microForeign: [{ what: 'micro a', cores: 0.01 }, { what: 'micro b', cores: 0.05 }] });
    assert.match(quiet.notes.join('\n'), /Other processes used 0\.03 cores on average \(at most 0\.05\) during the 2 measured intervals/);
    const busy = buildScoreboard({ suites: SUITES, micro: MICRO, loopback: null, microForeign: [{ what: 'micro a', cores: 0.9 }, { what: 'micro b', cores: 0.05 }] });
    assert.match(busy.notes.join('\n'), /^DISTURBED: .* during 1 of 2 measured intervals .*worst: micro a 0\.90\)/m);
  });

  it('draws one polyline per subject with its sweep, a legend entry each, and escapes text', () => {
    const svg = sweepChartSvg({ loopback: loopback(10_000, 18_000), cryptoLimit: 12_000, subtitle: ['a < b'] });
    assert.equal((svg.match(/<polyline /g) ?? []).length, 3);
    assert.match(svg, /@ethereumjs\/devp2p DPT &amp; co/);
    assert.match(svg, /a &lt; b/);
    assert.match(svg, /crypto limit, one core: 12,000\/s/);
    assert.ok(svg.startsWith('<svg ') && svg.trimEnd().endsWith('</svg>'));
  });
});

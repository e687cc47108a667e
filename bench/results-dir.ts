/**
 * Where the benchmarks and the simulator write their results: full runs to
 * bench/results (tracked: the figures the README quotes), `--quick` smoke
 * runs to bench/results/quick (git-ignored), so a smoke run never replaces
 * the tracked figures. bench/index.ts, bench/loopback and sim/run.ts.
 */
import * as path from 'node:path';

/** bench/results: the tracked results of full runs. */
export const RESULTS_DIR = path.join(__dirname, 'results');

/** The directory a run writes its results to. */
export function resultsDir(quick: boolean): string {
  return quick ? path.join(RESULTS_DIR, 'quick') : RESULTS_DIR;
}

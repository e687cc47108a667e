/**
 * The sweep chart: pongs/s received against pings/s offered, one polyline
 * per subject, as a hand-written SVG (no dependency). Points are medians,
 * whiskers span min..max over the repeats; a dashed diagonal marks "every
 * ping answered" and a dashed horizontal line the one-core crypto limit.
 */
import { fmtInt, LoopbackResult } from './loopback';

const W = 760;
const H = 460;
const M = { left: 72, right: 24, top: 72, bottom: 56 };
const COLORS = ['#1f77b4', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#ff7f0e'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round step giving about `n` ticks up to `max` (1, 2, 2.5 or 5 times a power of ten). */
function tickStep(max: number, n: number): number {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function fmtTick(v: number): string {
  return v >= 1000 ? `${+(v / 1000).toFixed(1)}k` : String(v);
}

export interface ChartInput {
  loopback: LoopbackResult;
  /** Our one-core crypto limit, pongs/s (null: not measured). */
  cryptoLimit: number | null;
  /** Lines under the title: command, machine, date. */
  subtitle: string[];
}

export function sweepChartSvg({ loopback, cryptoLimit, subtitle }: ChartInput): string {
  const series = loopback.impls
    .filter((i) => i.openLoop.length > 0)
    .map((i, k) => ({
      label: i.label,
      color: COLORS[k % COLORS.length],
      points: i.openLoop.map((o) => ({ x: o.offeredPps, y: o.medianReceivedPerSec, lo: o.minReceivedPerSec, hi: o.maxReceivedPerSec })),
    }));
  const xMaxData = Math.max(1, ...loopback.rates);
  const yMaxData = Math.max(1, cryptoLimit ?? 0, ...series.flatMap((s) => s.points.map((p) => p.hi)));
  const xStep = tickStep(xMaxData, 6);
  const xMax = Math.ceil(xMaxData / xStep) * xStep;
  const yStep = tickStep(yMaxData * 1.08, 6);
  const yMax = Math.ceil((yMaxData * 1.08) / yStep) * yStep;
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const X = (v: number) => +(M.left + (v / xMax) * pw).toFixed(1);
  const Y = (v: number) => +(M.top + ph - (v / yMax) * ph).toFixed(1);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc('Pongs/s received vs pings/s offered (open loop, 127.0.0.1)')}</text>`,
    ...subtitle.map((line, i) => `<text x="${M.left}" y="${40 + i * 15}" fill="#555">${esc(line)}</text>`),
  );
  // Grid and ticks.
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    out.push(
      `<line x1="${X(v)}" y1="${M.top}" x2="${X(v)}" y2="${M.top + ph}" stroke="#e5e5e5"/>`,
      `<line x1="${X(v)}" y1="${M.top + ph}" x2="${X(v)}" y2="${M.top + ph + 5}" stroke="#333"/>`,
      `<text x="${X(v)}" y="${M.top + ph + 19}" text-anchor="middle">${fmtTick(v)}</text>`,
    );
  }
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(
      `<line x1="${M.left}" y1="${Y(v)}" x2="${M.left + pw}" y2="${Y(v)}" stroke="#e5e5e5"/>`,
      `<line x1="${M.left - 5}" y1="${Y(v)}" x2="${M.left}" y2="${Y(v)}" stroke="#333"/>`,
      `<text x="${M.left - 8}" y="${Y(v) + 4}" text-anchor="end">${fmtTick(v)}</text>`,
    );
  }
  // Axes and their titles.
  out.push(
    `<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}" stroke="#333"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}" stroke="#333"/>`,
    `<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">pings/s offered</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">pongs/s received (median, whiskers min-max)</text>`,
  );
  // Every ping answered: y = x, clipped to the plot.
  const d = Math.min(xMax, yMax);
  out.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(d)}" y2="${Y(d)}" stroke="#999" stroke-dasharray="4 4"/>`);
  // Its label along the line, above it (nothing is received above what is offered).
  const angle = (Math.atan2(Y(d) - Y(0), X(d) - X(0)) * 180) / Math.PI;
  const at = d * 0.04;
  out.push(
    `<text transform="translate(${X(at)} ${Y(at)}) rotate(${angle.toFixed(1)})" dy="-6" fill="#777">every ping answered</text>`,
  );
  if (cryptoLimit !== null) {
    out.push(
      `<line x1="${M.left}" y1="${Y(cryptoLimit)}" x2="${M.left + pw}" y2="${Y(cryptoLimit)}" stroke="#444" stroke-dasharray="8 3 2 3"/>`,
      `<text x="${M.left + 6}" y="${Y(cryptoLimit) - 5}" fill="#444">${esc(`crypto limit, one core: ${fmtInt(cryptoLimit)}/s`)}</text>`,
    );
  }
  // Series.
  for (const s of series) {
    const pts = s.points.map((p) => `${X(p.x)},${Y(p.y)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const p of s.points) {
      if (p.hi > p.lo) out.push(`<line x1="${X(p.x)}" y1="${Y(p.lo)}" x2="${X(p.x)}" y2="${Y(p.hi)}" stroke="${s.color}"/>`);
      out.push(`<circle cx="${X(p.x)}" cy="${Y(p.y)}" r="3.5" fill="${s.color}"><title>${esc(`${s.label}: ${fmtInt(p.y)} pongs/s at ${fmtInt(p.x)} offered`)}</title></circle>`);
    }
  }
  // Legend, top left inside the plot.
  const lx = M.left + 14;
  let ly = M.top + 16;
  out.push(`<rect x="${lx - 8}" y="${ly - 13}" width="230" height="${series.length * 18 + 8}" fill="#ffffff" fill-opacity="0.9" stroke="#ccc"/>`);
  for (const s of series) {
    out.push(
      `<line x1="${lx}" y1="${ly - 4}" x2="${lx + 22}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"/>`,
      `<circle cx="${lx + 11}" cy="${ly - 4}" r="3.5" fill="${s.color}"/>`,
      `<text x="${lx + 30}" y="${ly}">${esc(s.label)}</text>`,
    );
    ly += 18;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

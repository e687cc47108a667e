/** One CSV cell (RFC 4180): empty for none, quoted when it holds a quote, comma or newline. */
export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

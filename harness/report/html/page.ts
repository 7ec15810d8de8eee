// The HTML around the charts: one page, inline CSS, no script and no external resource, shared by the
// run report, `compare` and `history`. Every value that came from a run is escaped.

export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A number with a fixed number of decimals and thousands separators; '—' for nothing. */
export function num(v: number | null | undefined, digits = 2): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  return Number(v.toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits });
}

export type Better = 'higher' | 'lower';

/**
 * value/base as "0.83×", coloured by whether it is better or worse than the baseline; within ±5 %
 * it stays neutral so a page of ratios does not light up from noise.
 */
export function ratioBadge(value: number | null | undefined, base: number | null | undefined, better: Better): string {
  if (value === undefined || value === null || base === undefined || base === null || !Number.isFinite(value) || !base) return '';
  const r = value / base;
  const worse = better === 'higher' ? r < 0.95 : r > 1.05;
  const improved = better === 'higher' ? r > 1.05 : r < 0.95;
  return `<span class="ratio ${worse ? 'worse' : improved ? 'better' : 'same'}" title="ratio to the baseline">${r.toFixed(2)}×</span>`;
}

export function table(header: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${header.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function notMeasured(what: string, why?: string): string {
  return `<p class="not-measured"><strong>${esc(what)}: not measured</strong>${why ? ` — ${esc(why)}` : ''}</p>`;
}

/** A chart in a figure; `data-chart` lets tests and readers count what was drawn. */
export function figure(id: string, svg: string, caption?: string): string {
  return `<figure class="chart" data-chart="${esc(id)}">${svg}${caption ? `<figcaption>${caption}</figcaption>` : ''}</figure>`;
}

const CSS = `
:root { color-scheme: light; --fg:#1d2330; --muted:#5f6b7a; --line:#d9dee6; --bg:#ffffff; --panel:#f6f8fb; --bad:#c62828; --good:#1b7a3d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 22px 0 8px; }
.meta { color: var(--muted); margin: 0 0 18px; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px; overflow: auto; }
table { border-collapse: collapse; margin: 8px 0 12px; width: auto; max-width: 100%; }
th, td { border: 1px solid var(--line); padding: 5px 9px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.matrix td { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.matrix td:first-child, table.matrix th:first-child { text-align: left; }
table.matrix tr.group td { background: var(--panel); font-weight: 600; text-align: left; }
.spread { display: block; color: var(--muted); font-size: 11.5px; }
.ratio { display: inline-block; margin-left: 6px; padding: 0 5px; border-radius: 4px; font-size: 12px; }
.ratio.worse { background: #fde4e4; color: var(--bad); }
.ratio.better { background: #e1f4e8; color: var(--good); }
.ratio.same { background: #eef1f5; color: var(--muted); }
.verdict { border-radius: 8px; padding: 14px 18px; margin: 12px 0 16px; border: 1px solid var(--line); }
.verdict.pass { background: #e9f7ee; border-color: #b7e2c4; }
.verdict.fail { background: #fdecec; border-color: #f2bcbc; }
.verdict.neutral { background: var(--panel); }
.verdict .headline { font-size: 18px; font-weight: 650; margin: 0 0 6px; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.pass { background: #d4efdd; color: var(--good); }
.badge.fail { background: #f9d6d6; color: var(--bad); }
.badge.info { background: #e3e8f0; color: var(--muted); }
.not-measured { color: var(--muted); background: var(--panel); border: 1px dashed var(--line); border-radius: 6px; padding: 8px 12px; }
.warning { background: #fff4e5; border: 1px solid #f0b46c; border-radius: 6px; padding: 8px 12px; }
figure.chart { margin: 10px 0 18px; }
figure.chart svg { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 2px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 0 24px; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
details summary { cursor: pointer; color: var(--muted); }
.lost { color: var(--bad); font-weight: 700; }
nav.toc { font-size: 13px; color: var(--muted); margin-bottom: 8px; }
nav.toc a { color: inherit; margin-right: 12px; }
`;

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

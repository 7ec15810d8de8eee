import { describe, it, expect, beforeAll } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderHtml, writeHtmlReport } from './index.ts';
import { StatebenchError } from '../../errors.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/runs');
const FAULTS = join(FIXTURES, 'two-targets-faults');
const NO_FAULTS = join(FIXTURES, 'no-faults');

/** The charts of a page: each <figure class="chart"> with its data-chart id and its SVG. */
function charts(html: string): Array<{ id: string; svg: string }> {
  return [...html.matchAll(/<figure class="chart" data-chart="([^"]+)">([\s\S]*?)<\/figure>/g)].map((m) => ({ id: m[1], svg: m[2] }));
}

function section(html: string, id: string): string {
  const m = new RegExp(`<section id="${id}">([\\s\\S]*?)</section>`).exec(html);
  if (!m) throw new Error(`no section ${id}`);
  return m[1];
}

describe('report.html from a run with two targets, faults and safety', () => {
  let html: string;
  beforeAll(async () => {
    html = await renderHtml(FAULTS);
  });

  it('is one self-contained page: no script, no external resource', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//i);
    expect(html).not.toMatch(/url\((['"]?)https?:/i);
    expect(html).toContain("default-src 'none'");
  });

  it('puts the verdict first: failed check, and the comparison against the baseline', () => {
    const verdict = section(html, 'verdict');
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('id="matrix"'));
    expect(verdict).toContain('FAIL: 1 of 4 checks failed');
    expect(verdict).toContain('3 passed');
    expect(verdict).toContain('durability.no-lost-acknowledged-writes');
    expect(verdict).toContain('against the baseline <code>baremetal/local</code>');
    // One repetition per target: docker TPS 327.8 vs 432.3 is 0.758×, recovery median 3700 vs 2100
    // is 1.762×, each a single observation with no verdict.
    expect(verdict).toMatch(/<td>oltp-tpcb TPS<\/td><td>432\.3 tx\/s <span class="spread">n=1<\/span><\/td><td>327\.8 tx\/s <span class="spread">n=1<\/span><\/td><td>0\.758×<\/td><td>no interval<\/td><td><span class="badge info"[^>]*>single observation, no verdict</);
    expect(verdict).toMatch(/<td>fault → first write, median<\/td>.*?<td>1\.762×<\/td>/);
    expect(verdict).not.toMatch(/class="ratio (worse|better)"/);
    expect(verdict).toContain('0.76× is a single observation (n=1/1 repetitions): no verdict');
  });

  it('shows the target matrix side by side with spreads and no single-run ratios', () => {
    const matrix = section(html, 'matrix');
    expect(matrix).toMatch(/<th>baremetal\/local <span class="badge info">baseline<\/span><\/th><th>docker\/local<\/th>/);
    for (const row of ['rand 4k write IOPS', 'seq write MiB/s', 'fdatasync p50 ms', 'fdatasync p99 ms', 'TPS', 'latency p50 ms', 'latency p95 ms', 'latency p99 ms', 'cycles recovered', 'median', 'lost', 'phantom']) {
      expect(matrix).toContain(`<td>${row}</td>`);
    }
    // Ratios of single runs are not printed next to the figures.
    expect(matrix).toContain('<td>38,500<span class="spread">');
    expect(matrix).not.toContain('class="ratio');
    expect(matrix).toContain('per second 0–440–483 (min–median–max, n=40)');
    expect(matrix).toContain('n=1,200 fdatasyncs');
    expect(matrix).toContain('n=3 cycles');
    expect(matrix).toContain('3/3');
    expect(matrix).toContain('(+1 vs baseline)');
  });

  it('draws six charts, each an SVG with paths: two timelines per target, one CDF, one recovery plot', () => {
    const list = charts(html);
    expect(list.map((c) => c.id)).toEqual(['tps:baremetal/local', 'latency:baremetal/local', 'tps:docker/local', 'latency:docker/local', 'cdf:oltp-tpcb', 'recovery']);
    for (const c of list) {
      expect(c.svg).toMatch(/^<svg [^>]*viewBox=/);
      expect(c.svg.match(/<path /g)?.length ?? 0).toBeGreaterThan(5);
    }
  });

  it('marks fault injections and shades unavailability on the timelines', () => {
    const tps = charts(html).find((c) => c.id === 'tps:docker/local')!.svg;
    for (const n of [1, 2, 3]) expect(tps).toContain(`node-crash #${n}`);
    // The shaded windows are filled with the translucent fault colour.
    expect(tps.match(/<polygon [^>]*fill="rgb\(198,40,40\)" fill-opacity="0\.13"/g)?.length).toBe(3);
    expect(section(html, 'timelines')).toContain('3 fault cycles on this target.');
  });

  it('has a latency CDF per target from the HDR histograms and a recovery distribution', () => {
    const cdf = charts(html).find((c) => c.id === 'cdf:oltp-tpcb')!.svg;
    expect(cdf).toContain('baremetal/local (n=17,290)');
    expect(cdf).toContain('docker/local (n=13,111)');
    const recovery = section(html, 'recovery');
    expect(recovery).toContain('baremetal/local: fault cycles');
    expect(recovery).toContain('<td>3,400</td>');
    expect(recovery).not.toContain('not measured');
  });

  it('explains lost, phantom and indeterminate next to the safety table', () => {
    const safety = section(html, 'safety');
    for (const word of ['<strong>lost</strong>', '<strong>phantom</strong>', '<strong>indeterminate</strong>']) expect(safety).toContain(word);
    expect(safety).toContain('19 (11 / 8)');
    expect(safety).toContain('w1-000412');
  });

  it('records the environment, versions and the profile used', () => {
    const env = section(html, 'environment');
    expect(env).toContain('Test CPU × 2');
    expect(env).toContain('postgres PostgreSQL 17.10');
    expect(env).toContain('fio-3.33');
    expect(section(html, 'profile')).toContain('name: fixture-faults');
    expect(section(html, 'checks')).toContain('<span class="badge fail">FAIL</span>');
  });
});

describe('report.html from a real one-target run without faults or safety', () => {
  let html: string;
  beforeAll(async () => {
    html = await renderHtml(NO_FAULTS);
  });

  it('says "not measured" instead of drawing empty charts', () => {
    expect(section(html, 'recovery')).toContain('Recovery time: not measured</strong> — no faults were scheduled in this run');
    expect(section(html, 'safety')).toContain('Data safety: not measured</strong> — the safety writer did not run');
    expect(section(html, 'checks')).toContain('Conformance checks: not measured');
    expect(section(html, 'verdict')).toContain('Only one target ran');
    expect(section(html, 'verdict')).toContain('No conformance checks were configured');
    expect(section(html, 'matrix')).toContain('no faults scheduled');
    expect(section(html, 'timelines')).toContain('No faults were injected on this target.');
  });

  it('draws the timelines and the CDF only', () => {
    const list = charts(html);
    expect(list.map((c) => c.id)).toEqual(['tps:baremetal/local', 'latency:baremetal/local', 'cdf:oltp-tpcb']);
    for (const c of list) expect(c.svg).toContain('<path ');
  });

  it('shows fio spread and real environment facts', () => {
    expect(section(html, 'matrix')).toContain('one fio-3.33 run, one IOPS sample');
    expect(section(html, 'environment')).toContain('PostgreSQL 17.10');
    expect(section(html, 'profile')).toContain('name: smoke');
  });
});

describe('report.html when parts of the run directory are missing', () => {
  it('marks the per-second timeline not measured without samples.jsonl, and keeps the CDF from summary.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-html-'));
    try {
      cpSync(FAULTS, dir, { recursive: true });
      rmSync(join(dir, 'samples.jsonl'));
      rmSync(join(dir, 'profile.yaml'));
      const html = await renderHtml(dir);
      expect(html).toContain('Per-second timeline of docker/local: not measured');
      expect(charts(html).map((c) => c.id)).toEqual(['cdf:oltp-tpcb', 'recovery']);
      expect(html).toContain('profile.yaml is not in the run directory');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("marks faults from events.jsonl when an interrupted run's summary has none yet", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-html-'));
    try {
      cpSync(FAULTS, dir, { recursive: true });
      const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
      summary.status = 'interrupted';
      for (const t of summary.targets) {
        t.faults = [];
        delete t.recoveryMs;
      }
      writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
      const html = await renderHtml(dir);
      expect(charts(html).find((c) => c.id === 'tps:docker/local')!.svg).toContain('node-crash #3');
      expect(section(html, 'verdict')).toContain('INTERRUPTED');
      expect(section(html, 'recovery')).toContain('<span class="lost">not recovered</span> (from events)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writeHtmlReport writes report.html into the run directory; a summary.json path works too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-html-'));
    try {
      cpSync(NO_FAULTS, dir, { recursive: true });
      const file = await writeHtmlReport(join(dir, 'summary.json'));
      expect(file).toBe(join(dir, 'report.html'));
      expect(existsSync(file + '.tmp')).toBe(false);
      expect(readFileSync(file, 'utf8')).toContain('statebench: smoke');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a directory without summary.json with a usage error saying what to pass', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-html-'));
    try {
      const err = await renderHtml(dir).catch((e) => e);
      expect(err).toBeInstanceOf(StatebenchError);
      expect(err.exitCode).toBe(2);
      expect(err.hint).toContain('run directory');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

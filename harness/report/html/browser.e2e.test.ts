// report.html as a person sees it: opened from disk in headless Chromium, with nothing allowed to load
// from anywhere, every chart drawn, and a screenshot kept for a human to look at.
import { describe, it, expect } from 'vitest';
import { cpSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeHtmlReport } from './render.ts';
import { missing } from '../../testing/requirements.ts';

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/runs');
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const skip = missing({ tools: ['chromium'], why: 'the report browser test needs Chromium (apt-get install -y chromium)' });

describe.skipIf(!!skip)('report.html in headless Chromium', () => {
  for (const [fixture, expectedCharts] of [
    ['two-targets-faults', 6],
    ['no-faults', 3],
  ] as const) {
    it(`${fixture}: no console errors, no requests, ${expectedCharts} charts with drawn paths, screenshot`, async () => {
      const { chromium } = await import('playwright-core');
      const dir = mkdtempSync(join(tmpdir(), `sb-browser-${fixture}-`));
      cpSync(join(FIXTURES, fixture), dir, { recursive: true });
      const file = await writeHtmlReport(dir);

      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const problems: string[] = [];
        const requests: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
        page.on('request', (r) => {
          if (r.url() !== pathToFileURL(file).href) requests.push(r.url());
        });
        await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

        const figures = await page.$$eval('figure.chart', (els) =>
          els.map((el) => {
            const svg = el.querySelector('svg');
            const box = svg?.getBoundingClientRect();
            const paths = [...(svg?.querySelectorAll('path') ?? [])];
            return {
              id: el.getAttribute('data-chart'),
              width: box?.width ?? 0,
              height: box?.height ?? 0,
              paths: paths.length,
              drawnPaths: paths.filter((p) => (p.getAttribute('d') ?? '').length > 10).length,
            };
          }),
        );
        expect(figures).toHaveLength(expectedCharts);
        for (const f of figures) {
          expect(f.width, f.id!).toBeGreaterThan(400);
          expect(f.height, f.id!).toBeGreaterThan(150);
          expect(f.drawnPaths, f.id!).toBeGreaterThan(5);
        }
        expect(await page.locator('h2').allTextContents()).toEqual(
          expect.arrayContaining(['Verdict', 'Targets side by side', 'Timelines', 'Latency distribution', 'Recovery', 'Data safety', 'Checks', 'Environment and versions', 'Profile']),
        );

        const shot = join(dir, 'report.png');
        await page.screenshot({ path: shot, fullPage: true });
        expect(statSync(shot).size).toBeGreaterThan(20_000);
        console.log(`screenshot of ${fixture} report.html: ${shot}`);

        expect(problems).toEqual([]);
        expect(requests).toEqual([]);
      } finally {
        await browser.close();
      }
    });
  }
});

// Durations and sizes as people write them in profiles ("20s", "2GiB"), parsed into integers.
// Leaf module: no runtime imports, so plans can be built and shown without side effects.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
};

export type Parsed = { ok: true; value: number } | { ok: false; message: string };

/** "1m30s", "20s", "500ms", "2h"; a bare number is seconds. Returns milliseconds. */
export function parseDuration(input: unknown): Parsed {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return { ok: false, message: `duration must not be negative, got ${input}` };
    return { ok: true, value: Math.round(input * 1000) };
  }
  if (typeof input !== 'string') return { ok: false, message: `expected a duration like "20s" or "500ms", got ${typeof input}` };
  const text = input.trim();
  if (text.startsWith('-')) return { ok: false, message: `duration must not be negative, got "${input}"` };
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    return { ok: false, message: `invalid duration "${input}": use a number with a unit of ms, s, m or h, e.g. "20s", "1m30s"` };
  }
  return { ok: true, value: Math.round(total) };
}

/** "2GiB", "64MiB", "512KiB", "1GB"; a bare number is bytes. Returns bytes. */
export function parseSize(input: unknown): Parsed {
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input < 0) return { ok: false, message: `size must be a non-negative whole number of bytes, got ${input}` };
    return { ok: true, value: input };
  }
  if (typeof input !== 'string') return { ok: false, message: `expected a size like "64MiB", got ${typeof input}` };
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB)\s*$/.exec(input);
  if (!m) {
    if (input.trim().startsWith('-')) return { ok: false, message: `size must not be negative, got "${input}"` };
    return { ok: false, message: `invalid size "${input}": use a number with a unit of B, KiB, MiB, GiB, TiB, KB, MB or GB, e.g. "64MiB"` };
  }
  return { ok: true, value: Math.round(Number(m[1]) * SIZE_UNITS[m[2]]) };
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  return `${+(ms / 1000).toFixed(3)}s`;
}

export function formatSize(bytes: number): string {
  for (const [unit, div] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= div && bytes % (div / 1024) === 0) return `${+(bytes / div).toFixed(2)}${unit}`;
  }
  return `${bytes}B`;
}

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

/** Longest duration a profile may give any field: a week. Past that a typo is likelier than intent. */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;
/** Largest size a profile may give any field (a volume); fields that allocate memory set lower maxima. */
export const MAX_SIZE_BYTES = 16 * 1024 ** 4;

const UNIT_ORDER = ['h', 'm', 's', 'ms'];
const shown = (input: unknown) => (typeof input === 'string' ? `"${input.length > 40 ? `${input.slice(0, 40)}…` : input}"` : String(input));

/** "1m30s", "20s", "500ms", "2h"; a bare number is seconds. Returns milliseconds, at most a week. */
export function parseDuration(input: unknown): Parsed {
  let total: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) return { ok: false, message: `duration must be a finite, non-negative number of seconds, got ${input}` };
    total = input * 1000;
  } else if (typeof input === 'string') {
    const text = input.trim();
    if (text.startsWith('-')) return { ok: false, message: `duration must not be negative, got ${shown(input)}` };
    // Each unit at most once, largest first ("1m30s"); "1s1s1s" is a typo, not 3 s.
    const re = /(\d{1,12}(?:\.\d{1,9})?)(ms|s|m|h)/gy;
    total = 0;
    let consumed = 0;
    let lastUnit = -1;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const order = UNIT_ORDER.indexOf(m[2]);
      if (order <= lastUnit) return { ok: false, message: `invalid duration ${shown(input)}: give each unit once, largest first, e.g. "1m30s"` };
      lastUnit = order;
      total += Number(m[1]) * DURATION_UNITS[m[2]];
      consumed = re.lastIndex;
    }
    if (consumed === 0 || consumed !== text.length) {
      return { ok: false, message: `invalid duration ${shown(input)}: use a number with a unit of ms, s, m or h, e.g. "20s", "1m30s"` };
    }
  } else {
    return { ok: false, message: `expected a duration like "20s" or "500ms", got ${input === null ? 'null' : typeof input}` };
  }
  if (!Number.isFinite(total) || total > MAX_DURATION_MS) return { ok: false, message: `duration ${shown(input)} is longer than the maximum of ${MAX_DURATION_MS / 3_600_000}h` };
  return { ok: true, value: Math.round(total) };
}

/** "2GiB", "64MiB", "512KiB", "1GB"; a bare number is bytes. Returns bytes, at most 16TiB. */
export function parseSize(input: unknown): Parsed {
  let value: number;
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) return { ok: false, message: `size must be a non-negative whole number of bytes, got ${input}` };
    value = input;
  } else if (typeof input === 'string') {
    const m = /^\s*(\d{1,16}(?:\.\d{1,9})?)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB)\s*$/.exec(input);
    if (!m) {
      if (input.trim().startsWith('-')) return { ok: false, message: `size must not be negative, got ${shown(input)}` };
      return { ok: false, message: `invalid size ${shown(input)}: use a number with a unit of B, KiB, MiB, GiB, TiB, KB, MB or GB, e.g. "64MiB"` };
    }
    value = Math.round(Number(m[1]) * SIZE_UNITS[m[2]]);
  } else {
    return { ok: false, message: `expected a size like "64MiB", got ${input === null ? 'null' : typeof input}` };
  }
  if (value > MAX_SIZE_BYTES) return { ok: false, message: `size ${shown(input)} is larger than the maximum of 16TiB` };
  return { ok: true, value };
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

// A TPC-H-like `lineitem` table, generated deterministically at a scale factor, with the SQL of the
// analytic workload's queries and their expected answers computed from the generator.
//
// Distribution (after the TPC-H specification's dbgen rules, simplified where noted):
//   orders          round(SF × 1,500,000), each with 1–7 lines (uniform): ≈ 6,000,000 × SF lines
//   l_orderkey      sparse like dbgen: 8 keys used out of every 32 (order i → (i−1)÷8×32 + (i−1) mod 8 + 1)
//   l_partkey       uniform 1 … SF × 200,000
//   l_suppkey       one of the part's 4 suppliers, dbgen's formula over SF × 10,000 suppliers
//   l_linenumber    1 … lines of the order
//   l_quantity      uniform integer 1 … 50
//   l_extendedprice quantity × the part's retail price, (90000 + (partkey ÷ 10 mod 20001) + 100 × (partkey mod 1000)) / 100
//   l_discount      uniform 0.00 … 0.10 in steps of 0.01
//   l_tax           uniform 0.00 … 0.08 in steps of 0.01
//   order date      uniform 1992-01-01 … 1998-08-02 (1998-12-31 − 151 days)
//   l_shipdate      order date + 1 … 121 days;  l_commitdate order date + 30 … 90;  l_receiptdate ship + 1 … 30
//   l_returnflag    'R' or 'A' (1:1) when receipt date ≤ 1995-06-17, else 'N'
//   l_linestatus    'O' when ship date > 1995-06-17, else 'F'
//   l_shipinstruct  one of 4, l_shipmode one of 7 (uniform); l_comment 10–43 characters of words
//                   (dbgen draws comments from a grammar; a word list here)
// Every chunk of orders has its own mulberry32 generator seeded from (seed, chunk).
//
// Prices are kept in integer cents and discounts/taxes in hundredths, so the expected sums of the
// queries are exact integers (sum_disc_price has 4 decimals, sum_charge 6); only averages are
// compared with a tolerance.
import type { GeneratedChunk, ChunkedDataSet } from './chunked-copy.ts';
import { NEWLINE, TAB, writeAscii, writeCents, writeUint } from './copy-text.ts';
import { Rng, chunkSeed } from './rng.ts';

export const ORDERS_PER_SF = 1_500_000;
export const PARTS_PER_SF = 200_000;
export const SUPPLIERS_PER_SF = 10_000;
/** At most 7 × 2500 = 17,500 lines a chunk: its sums stay exact in doubles. */
export const ORDERS_PER_CHUNK = 2_500;

const DAY_MS = 86_400_000;
export const dayOf = (iso: string): number => Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)) / DAY_MS;
export const START_DATE = dayOf('1992-01-01');
export const END_DATE = dayOf('1998-12-31');
export const CURRENT_DATE = dayOf('1995-06-17');
/** Q1's cut-off: date '1998-12-01' - interval '90 day'. */
export const Q1_SHIPDATE_MAX = dayOf('1998-09-02');
export const Q6_FROM = dayOf('1994-01-01');
export const Q6_TO = dayOf('1995-01-01');

const DATE_TEXT: string[] = [];
for (let d = START_DATE; d <= END_DATE + 200; d++) DATE_TEXT.push(new Date(d * DAY_MS).toISOString().slice(0, 10));
export const dateText = (day: number): string => DATE_TEXT[day - START_DATE];

export const SHIP_INSTRUCT = ['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'] as const;
export const SHIP_MODE = ['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'] as const;
const WORDS = (
  'furiously carefully quickly slyly blithely regular ironic final pending express bold special even unusual silent ' +
  'deposits requests accounts packages theodolites instructions foxes pinto beans asymptotes dependencies platelets ' +
  'sleep wake nag haggle boost cajole detect integrate use among above according to the across after along'
).split(' ');

export interface LineitemRow {
  orderkey: number;
  partkey: number;
  suppkey: number;
  linenumber: number;
  quantity: number;
  /** l_extendedprice in cents. */
  priceCents: number;
  /** l_discount in hundredths (0–10). */
  discount: number;
  /** l_tax in hundredths (0–8). */
  tax: number;
  returnflag: 'R' | 'A' | 'N';
  linestatus: 'O' | 'F';
  /** Days since 1970-01-01. */
  shipdate: number;
  commitdate: number;
  receiptdate: number;
  shipinstruct: string;
  shipmode: string;
  comment: string;
}

export const LINEITEM_DDL = `create table lineitem (
  l_orderkey bigint not null,
  l_partkey integer not null,
  l_suppkey integer not null,
  l_linenumber integer not null,
  l_quantity numeric(15,2) not null,
  l_extendedprice numeric(15,2) not null,
  l_discount numeric(15,2) not null,
  l_tax numeric(15,2) not null,
  l_returnflag char(1) not null,
  l_linestatus char(1) not null,
  l_shipdate date not null,
  l_commitdate date not null,
  l_receiptdate date not null,
  l_shipinstruct char(25) not null,
  l_shipmode char(10) not null,
  l_comment varchar(44) not null
)`;

export const QUERIES = {
  q1: `select l_returnflag, l_linestatus,
  sum(l_quantity) as sum_qty,
  sum(l_extendedprice) as sum_base_price,
  sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
  sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
  avg(l_quantity) as avg_qty,
  avg(l_extendedprice) as avg_price,
  avg(l_discount) as avg_disc,
  count(*) as count_order
from lineitem
where l_shipdate <= date '1998-12-01' - interval '90 day'
group by l_returnflag, l_linestatus
order by l_returnflag, l_linestatus`,
  q6: `select sum(l_extendedprice * l_discount) as revenue
from lineitem
where l_shipdate >= date '1994-01-01'
  and l_shipdate < date '1994-01-01' + interval '1 year'
  and l_discount between 0.06 - 0.01 and 0.06 + 0.01
  and l_quantity < 24`,
  scan: 'select count(*) as count, sum(l_quantity) as sum_qty, sum(l_extendedprice) as sum_base_price from lineitem',
  index: 'create index lineitem_shipdate_idx on lineitem (l_shipdate)',
} as const;
export const DROP_INDEX = 'drop index if exists lineitem_shipdate_idx';

export function retailPriceCents(partkey: number): number {
  return 90_000 + (Math.floor(partkey / 10) % 20_001) + 100 * (partkey % 1000);
}

/** Exact per-group sums of Q1 (cents, hundredths; disc price ×10^4, charge ×10^6). */
export interface Q1Sums {
  count: number;
  sumQty: number;
  sumBaseCents: bigint;
  sumDiscPrice4: bigint;
  sumCharge6: bigint;
  sumDisc: number;
}

export interface Answers {
  /** Keyed by returnflag + linestatus, e.g. "AF". */
  q1: Map<string, Q1Sums>;
  /** sum(l_extendedprice × l_discount) × 10^4. */
  q6Revenue4: bigint;
  scan: { count: number; sumQty: number; sumBaseCents: bigint };
}

export function emptyAnswers(): Answers {
  return { q1: new Map(), q6Revenue4: 0n, scan: { count: 0, sumQty: 0, sumBaseCents: 0n } };
}

export function mergeAnswers(into: Answers, a: Answers): Answers {
  for (const [k, g] of a.q1) {
    const t = into.q1.get(k);
    if (!t) into.q1.set(k, { ...g });
    else {
      t.count += g.count;
      t.sumQty += g.sumQty;
      t.sumBaseCents += g.sumBaseCents;
      t.sumDiscPrice4 += g.sumDiscPrice4;
      t.sumCharge6 += g.sumCharge6;
      t.sumDisc += g.sumDisc;
    }
  }
  into.q6Revenue4 += a.q6Revenue4;
  into.scan.count += a.scan.count;
  into.scan.sumQty += a.scan.sumQty;
  into.scan.sumBaseCents += a.scan.sumBaseCents;
  return into;
}

export interface LineitemChunk extends GeneratedChunk {
  answers: Answers;
}

/** The lineitem data set at a scale factor; (scaleFactor, seed) determine every byte. */
export class LineitemData implements ChunkedDataSet<LineitemChunk> {
  readonly table = 'lineitem';
  readonly markerTable = 'lineitem_chunks';
  readonly orders: number;
  readonly parts: number;
  readonly suppliers: number;
  readonly chunks: number;

  constructor(
    readonly scaleFactor: number,
    readonly seed: number,
  ) {
    this.orders = Math.max(1, Math.round(scaleFactor * ORDERS_PER_SF));
    this.parts = Math.max(1, Math.round(scaleFactor * PARTS_PER_SF));
    this.suppliers = Math.max(1, Math.round(scaleFactor * SUPPLIERS_PER_SF));
    this.chunks = Math.ceil(this.orders / ORDERS_PER_CHUNK);
  }

  /** The lines of one chunk of orders, in generation order. */
  *rowsOf(chunk: number): Generator<LineitemRow> {
    const rng = new Rng(chunkSeed(this.seed, chunk));
    const first = chunk * ORDERS_PER_CHUNK + 1;
    const last = Math.min(this.orders, first + ORDERS_PER_CHUNK - 1);
    const S = this.suppliers;
    for (let i = first; i <= last; i++) {
      const orderkey = Math.floor((i - 1) / 8) * 32 + ((i - 1) % 8) + 1;
      const orderdate = START_DATE + rng.below(END_DATE - 151 - START_DATE + 1);
      const lines = rng.between(1, 7);
      for (let linenumber = 1; linenumber <= lines; linenumber++) {
        const partkey = rng.between(1, this.parts);
        const suppkey = ((partkey + rng.below(4) * (Math.floor(S / 4) + Math.floor((partkey - 1) / S))) % S) + 1;
        const quantity = rng.between(1, 50);
        const discount = rng.between(0, 10);
        const tax = rng.between(0, 8);
        const shipdate = orderdate + rng.between(1, 121);
        const commitdate = orderdate + rng.between(30, 90);
        const receiptdate = shipdate + rng.between(1, 30);
        const returnflag = receiptdate <= CURRENT_DATE ? (rng.below(2) ? 'R' : 'A') : 'N';
        const linestatus = shipdate > CURRENT_DATE ? 'O' : 'F';
        const shipinstruct = rng.pick(SHIP_INSTRUCT);
        const shipmode = rng.pick(SHIP_MODE);
        const len = rng.between(10, 43);
        let comment = '';
        while (comment.length < len) comment += (comment ? ' ' : '') + rng.pick(WORDS);
        comment = comment.slice(0, len);
        yield {
          orderkey,
          partkey,
          suppkey,
          linenumber,
          quantity,
          priceCents: quantity * retailPriceCents(partkey),
          discount,
          tax,
          returnflag,
          linestatus,
          shipdate,
          commitdate,
          receiptdate,
          shipinstruct,
          shipmode,
          comment,
        };
      }
    }
  }

  generate(chunk: number): LineitemChunk {
    const out = Buffer.allocUnsafe(Math.min(this.orders, ORDERS_PER_CHUNK) * 7 * MAX_LINE_BYTES);
    let o = 0;
    let rows = 0;
    // Per-chunk sums as doubles (exact: < 2^53 for 17,500 lines), turned into bigints once.
    const q1 = new Map<string, { count: number; qty: number; base: number; disc4: number; charge6: number; disc: number }>();
    let q6 = 0;
    let qty = 0;
    let base = 0;
    for (const r of this.rowsOf(chunk)) {
      rows++;
      o = writeUint(out, o, r.orderkey);
      out[o++] = TAB;
      o = writeUint(out, o, r.partkey);
      out[o++] = TAB;
      o = writeUint(out, o, r.suppkey);
      out[o++] = TAB;
      o = writeUint(out, o, r.linenumber);
      out[o++] = TAB;
      o = writeUint(out, o, r.quantity);
      out[o++] = TAB;
      o = writeCents(out, o, r.priceCents);
      out[o++] = TAB;
      o = writeCents(out, o, r.discount);
      out[o++] = TAB;
      o = writeCents(out, o, r.tax);
      out[o++] = TAB;
      out[o++] = r.returnflag.charCodeAt(0);
      out[o++] = TAB;
      out[o++] = r.linestatus.charCodeAt(0);
      out[o++] = TAB;
      o = writeDate(out, o, r.shipdate);
      o = writeDate(out, o, r.commitdate);
      o = writeDate(out, o, r.receiptdate);
      o = writeFixed(out, o, r.shipinstruct);
      out[o++] = TAB;
      o = writeFixed(out, o, r.shipmode);
      out[o++] = TAB;
      o = writeAscii(out, o, r.comment);
      out[o++] = NEWLINE;
    qty += r.quantity;
      base += r.priceCents;
      if (r.shipdate <= Q1_SHIPDATE_MAX) {
        const k = r.returnflag + r.linestatus;
        let g = q1.get(k);
        if (!g) q1.set(k, (g = { count: 0, qty: 0, base: 0, disc4: 0, charge6: 0, disc: 0 }));
        g.count++;
        g.qty += r.quantity;
        g.base += r.priceCents;
        g.disc4 += r.priceCents * (100 - r.discount);
        g.charge6 += r.priceCents * (100 - r.discount) * (100 + r.tax);
        g.disc += r.discount;
      }
      if (r.shipdate >= Q6_FROM && r.shipdate < Q6_TO && r.discount >= 5 && r.discount <= 7 && r.quantity < 24) q6 += r.priceCents * r.discount;
    }
    const answers = emptyAnswers();
    for (const [k, g] of q1) {
      answers.q1.set(k, { count: g.count, sumQty: g.qty, sumBaseCents: BigInt(g.base), sumDiscPrice4: BigInt(g.disc4), sumCharge6: BigInt(g.charge6), sumDisc: g.disc });
    }
    answers.q6Revenue4 = BigInt(q6);
    answers.scan = { count: rows, sumQty: qty, sumBaseCents: BigInt(base) };
    return { data: out.subarray(0, o), rows, answers };
  }
}

/** Widest line: keys 12 + 9 + 7 + 1, quantity 2, price 12, discount and tax 4 + 4, flags 2, dates 30, instruct 17, mode 7, comment 43, separators 16. */
const MAX_LINE_BYTES = 200;
const DATE_BYTES = Buffer.from(DATE_TEXT.join(''), 'latin1');

const DATE_VIEWS = DATE_TEXT.map((_, i) => DATE_BYTES.subarray(i * 10, i * 10 + 10));
/** Fixed strings as bytes, copied with TypedArray.set (Buffer.copy allocates a view per call). */
const BYTES = new Map<string, Buffer>([...SHIP_INSTRUCT, ...SHIP_MODE].map((t) => [t, Buffer.from(t, 'latin1')]));

/** A date and the tab after it. */
function writeDate(out: Buffer, o: number, day: number): number {
  out.set(DATE_VIEWS[day - START_DATE], o);
  out[o + 10] = TAB;
  return o + 11;
}

function writeFixed(out: Buffer, o: number, text: string): number {
  const b = BYTES.get(text)!;
  out.set(b, o);
  return o + b.length;
}

/** A numeric as PostgreSQL prints it ("123.4500", "-1.5") → an integer scaled by 10^scale. */
export function scaled(text: string, scale: number): bigint {
  const neg = text.startsWith('-');
  const [int, frac = ''] = (neg ? text.slice(1) : text).split('.');
  if (frac.length > scale && /[^0]/.test(frac.slice(scale))) throw new Error(`${text} has more than ${scale} decimals`);
  const v = BigInt(int + frac.slice(0, scale).padEnd(scale, '0'));
  return neg ? -v : v;
}

/** An integer scaled by 10^scale as a decimal string with `scale` decimals. */
export function unscaled(v: bigint, scale: number): string {
  const neg = v < 0n;
  const s = (neg ? -v : v).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, s.length - scale)}${scale ? '.' + s.slice(s.length - scale) : ''}`;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/** Compares a query's result rows with the expected answers; returns the differences (none = match). */
export function checkAnswer(query: 'q1' | 'q6' | 'scan', rows: Array<Record<string, string | number | null>>, a: Answers): string[] {
  const problems: string[] = [];
  const eq = (what: string, got: unknown, want: unknown) => {
    if (got !== want) problems.push(`${what}: got ${String(got)}, expected ${String(want)}`);
  };
  if (query === 'q1') {
    const keys = [...a.q1.keys()].sort();
    eq('groups', rows.map((r) => `${r.l_returnflag}${r.l_linestatus}`).join(','), keys.join(','));
    for (const r of rows) {
      const k = `${r.l_returnflag}${r.l_linestatus}`;
      const g = a.q1.get(k);
      if (!g) continue;
      eq(`${k} count_order`, Number(r.count_order), g.count);
      eq(`${k} sum_qty`, scaled(String(r.sum_qty), 2), BigInt(g.sumQty) * 100n);
      eq(`${k} sum_base_price`, scaled(String(r.sum_base_price), 2), g.sumBaseCents);
      eq(`${k} sum_disc_price`, scaled(String(r.sum_disc_price), 4), g.sumDiscPrice4);
      eq(`${k} sum_charge`, scaled(String(r.sum_charge), 6), g.sumCharge6);
      const avg = (got: unknown, want: number, what: string) => {
        if (!close(Number(got), want)) problems.push(`${k} ${what}: got ${String(got)}, expected ${want}`);
      };
      avg(r.avg_qty, g.sumQty / g.count, 'avg_qty');
      avg(r.avg_price, Number(g.sumBaseCents) / 100 / g.count, 'avg_price');
      avg(r.avg_disc, g.sumDisc / 100 / g.count, 'avg_disc');
    }
  } else if (query === 'q6') {
    eq('revenue', rows[0]?.revenue === null ? 0n : scaled(String(rows[0]?.revenue), 4), a.q6Revenue4);
  } else {
    const r = rows[0] ?? {};
    eq('count', Number(r.count), a.scan.count);
    eq('sum_qty', r.sum_qty === null ? 0n : scaled(String(r.sum_qty), 2), BigInt(a.scan.sumQty) * 100n);
    eq('sum_base_price', r.sum_base_price === null ? 0n : scaled(String(r.sum_base_price), 2), a.scan.sumBaseCents);
  }
  return problems;
}

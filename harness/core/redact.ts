// Secrets stay out of everything a run writes. Profiles are shared and results are published (CI
// artifacts, job summaries), so a password in a k6 `env`, a setting or a description must not be
// copied into profile.yaml, plan.json, summary.json, report.*, events.jsonl or the logs. Three rules:
//  - the value of a key that looks like a secret (password, token, secret, api key…) is replaced;
//  - a password in a connection URL (`postgres://user:pw@host`) or a `password=…` pair in text is
//    replaced;
//  - every value read through `{ fromEnv: NAME }` is registered here and replaced wherever it appears.
import { parseDocument, visit, isScalar, isPair, Scalar } from 'yaml';

export const REDACTED = '[redacted]';

const SECRET_KEY = /(pass(word|wd|phrase)?$|^pwd$|secret|token|api[_-]?key|credential|private[_-]?key|^auth$|authorization)/i;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]*:)([^\s@/'"]+)(@)/gi;
const PAIR_PASSWORD = /(\b(?:password|passwd|pwd|secret|token|api[_-]?key)\b\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&'"]+)/gi;

const known = new Set<string>();

/** A value that must never be written: replaced wherever it appears from now on. */
export function registerSecret(value: string): void {
  // Very short values would blank out unrelated text; they are still covered by the key rules.
  if (value.length >= 4) known.add(value);
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export function redactString(s: string): string {
  let out = s;
  for (const v of known) if (out.includes(v)) out = out.split(v).join(REDACTED);
  if (out.includes('://')) out = out.replace(URL_PASSWORD, `$1${REDACTED}$3`);
  // Quotes are kept, so redacted YAML and JSON still parse.
  return out.replace(PAIR_PASSWORD, (_m, head: string, value: string) => {
    const q = value[0] === '"' || value[0] === "'" ? value[0] : '';
    return `${head}${q}${REDACTED}${q}`;
  });
}

/** Registers every string under a secret-looking key of `value` (a profile), so its copies are found anywhere. */
export function registerSecretsIn(value: unknown, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 64) return;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string' && isSecretKey(k)) registerSecret(v);
    else registerSecretsIn(v, depth + 1);
  }
}

/** A deep copy with secrets replaced; numbers and booleans under secret-looking keys are kept. */
export function redact<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redactString(value) as T;
  if (value === null || typeof value !== 'object' || depth > 64) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = typeof v === 'string' && isSecretKey(k) ? REDACTED : redact(v, depth + 1);
  }
  return out as T;
}

/** The profile text as written, with secret values replaced; comments and layout otherwise kept. */
export function redactYaml(source: string): string {
  try {
    const doc = parseDocument(source);
    if (doc.errors.length) return redactString(source);
    visit(doc, {
      Pair(_, pair) {
        if (isPair(pair) && isScalar(pair.key) && isScalar(pair.value) && typeof pair.value.value === 'string' && isSecretKey(String(pair.key.value))) {
          // Quoted: unquoted, [redacted] would read back as a list.
          const replaced = new Scalar(REDACTED);
          replaced.type = 'QUOTE_DOUBLE';
          replaced.comment = pair.value.comment;
          pair.value = replaced;
        }
      },
    });
    return redactString(doc.toString());
  } catch {
    return redactString(source);
  }
}

// Tests that need an external tool or root: under CI=true a missing requirement fails the test;
// elsewhere the test is skipped and the reason is printed, never silently.
import { hasTool } from '../core/tools.ts';

/**
 * Returns a reason to skip, or undefined when everything needed is there. Throws under CI so the
 * suite fails instead of passing without having checked anything.
 */
export function missing(requirements: { tools?: string[]; root?: boolean; why: string }): string | undefined {
  const gaps: string[] = [];
  for (const t of requirements.tools ?? []) if (!hasTool(t)) gaps.push(`${t} not on PATH`);
  if (requirements.root && process.getuid?.() !== 0) gaps.push('not running as root');
  if (!gaps.length) return undefined;
  const reason = `${requirements.why}: ${gaps.join(', ')}`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}; .ci/run must install it`);
  console.warn(`SKIP ${reason}`);
  return reason;
}

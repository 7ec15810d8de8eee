// External tools on this host: doctor, the environment record and the platforms ask here.
import { execFileSync } from 'node:child_process';

export function hasTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

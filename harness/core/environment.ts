// Facts about the machine and tools, recorded with every run so figures can be compared honestly.
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { run } from './exec.ts';
import { hasTool } from './tools.ts';

export function statebenchVersion(): string {
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
}

async function toolVersion(tool: string, args: string[]): Promise<string | null> {
  if (!hasTool(tool)) return null;
  try {
    const r = await run(tool, args, { timeoutMs: 10_000 });
    return (r.stdout || r.stderr).trim().split('\n')[0];
  } catch {
    return null;
  }
}

export async function collectEnvironment(): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  return {
    statebench: statebenchVersion(),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    kernel: os.release(),
    arch: process.arch,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpus: cpus.length,
    memoryBytes: os.totalmem(),
    hostname: os.hostname(),
    user: os.userInfo().username,
    tools: {
      fio: await toolVersion('fio', ['--version']),
    },
  };
}

// Human-readable plan for `statebench plan`.
import type { Plan } from './plan.ts';
import { formatDuration, formatSize } from './units.ts';

export function formatPlan(plan: Plan): string {
  const lines: string[] = [];
  lines.push(`profile ${plan.profile}${plan.description ? `: ${plan.description.trim()}` : ''}`);
  lines.push(`baseline ${plan.baseline}`);
  const reps = plan.repetitions ?? 1;
  if (reps > 1) lines.push(`repeat   ${reps} × every target, ${plan.order ?? 'interleaved'}${plan.order === 'randomized-blocks' ? `, seed ${plan.seed ?? 'drawn at start'}` : ''}; each a fresh deploy`);
  for (const t of plan.targets) {
    lines.push('');
    lines.push(`target ${t.name}`);
    lines.push(`  platform  ${t.platform}`);
    lines.push(`  storage   ${JSON.stringify(t.storage)}`);
    lines.push(`  engine    ${t.engine.kind}${t.engine.members > 1 ? ` × ${t.engine.members}` : ''}${t.engine.binDir ? ` from ${t.engine.binDir}` : ''}`);
    const settings = Object.entries(t.engine.settings);
    if (settings.length) lines.push(`  settings  ${settings.map(([k, v]) => `${k}=${v}`).join(' ')}`);
    if (t.engine.allowUnsafeSettings) lines.push('  settings  allowUnsafeSettings: settings may run commands and load files');
    const r = t.resources;
    if (r && (r.cpuset || r.cpus || r.memory || r.loadGenerator?.cpuset)) {
      const db = [r.cpuset ? `CPUs ${r.cpuset}` : '', r.cpus ? `${r.cpus} CPU quota` : '', r.memory ? formatSize(r.memory) : ''].filter(Boolean).join(', ') || 'unlimited';
      lines.push(`  resources database ${db}; load generator ${r.loadGenerator?.cpuset ? `CPUs ${r.loadGenerator.cpuset}` : 'unpinned'}`);
    }
    lines.push(`  io probe  ${t.io.enabled ? `${t.io.tool}, ${formatSize(t.io.size)}, ${formatDuration(t.io.runtime)}` : 'off'}`);
    for (const w of t.workloads) {
      const { kind, duration, warmup, ...rest } = w.spec;
      const extra = Object.entries(rest).filter(([k]) => k !== 'name').map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`);
      lines.push(`  workload  ${w.name} (${kind}) ${formatDuration(warmup)} warmup + ${duration === undefined ? 'as the script schedules' : formatDuration(duration)} ${extra.join(' ')}`);
    }
    for (const f of t.faults) {
      lines.push(`  fault     at +${formatDuration(f.atMs)} ${f.type} on ${f.target} for ${formatDuration(f.holdMs)} (cycle ${f.cycle + 1})`);
    }
    if (t.safety.writer.enabled) lines.push(`  safety    ledger writer × ${t.safety.writer.clients}${t.safety.bank.enabled ? `, bank of ${t.safety.bank.accounts} accounts` : ''}`);
    for (const c of t.checks) lines.push(`  check     ${c.check}${c.threshold !== undefined ? ` ≤ ${formatDuration(c.threshold)}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

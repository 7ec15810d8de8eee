// The fault catalog: every fault type, in one table. The profile schema takes its names from here,
// the capability table and the planner's checks derive from it, the runtime resolver in
// harness/fault/catalog.ts must give each type a builder (the compiler checks that), and the table
// in profiles/README.md is checked against it by a test. Adding a fault type starts here.
// Leaf module: no imports.

export type PlatformName = 'baremetal' | 'docker' | 'kind' | 'kubernetes';
export type EngineKind = 'postgres' | 'patroni';

/**
 * What a fault needs beyond a platform and engine that carry it out:
 * - `emulated-volume`: a volume statebench serves itself (remote storage without a storageClass),
 *   the only kind whose I/O it can stall or fail.
 * - `node-access`: on an existing cluster, a way onto the node (`faultPolicy.nodeAccess: helper-pod`);
 *   elsewhere statebench reaches its nodes directly.
 * - `one-error-rate`: nbdkit's error filter fixes its rate when the volume starts, so every
 *   storage-error on a target must use the same errorRate.
 */
export type FaultNeed = 'emulated-volume' | 'node-access' | 'one-error-rate';

export interface FaultKind {
  /** The profile field that says how long the fault is held: `duration` (held, then undone) or `downFor` (down, then brought back). */
  hold: 'duration' | 'downFor';
  /** Platforms that carry it out, with the engines they carry it out for. */
  on: Partial<Record<PlatformName, readonly EngineKind[]>>;
  needs: readonly FaultNeed[];
  /** One line for the documentation table. */
  what: string;
}

const BOTH = ['postgres', 'patroni'] as const;
const SINGLE = ['postgres'] as const;
const HA = ['patroni'] as const;

export const FAULT_CATALOG = {
  'node-crash': {
    hold: 'downFor',
    on: { baremetal: BOTH, docker: SINGLE, kind: BOTH },
    needs: [],
    what: 'SIGKILL of every process of the node / `docker kill` / kill of the kind node container; started again after `downFor`',
  },
  'node-hang': {
    hold: 'duration',
    on: { baremetal: BOTH, docker: SINGLE, kind: BOTH, kubernetes: BOTH },
    needs: ['node-access'],
    what: 'SIGSTOP of every process / `docker pause` / pause of the kind node container / on an existing cluster systemd\'s freezer on kubelet, runtime and pods through the helper pod; resumed after `duration`',
  },
  'graceful-restart': {
    hold: 'downFor',
    on: { baremetal: BOTH, docker: SINGLE },
    needs: [],
    what: 'fast shutdown, started again after `downFor`',
  },
  'agent-kill': {
    hold: 'downFor',
    on: { baremetal: HA },
    needs: [],
    what: 'SIGKILL of Patroni only, PostgreSQL keeps running; Patroni restarted after `downFor`',
  },
  switchover: {
    hold: 'downFor',
    on: { baremetal: HA },
    needs: [],
    what: 'planned leader change through Patroni\'s REST API',
  },
  'kubelet-stop': {
    hold: 'downFor',
    on: { kind: BOTH, kubernetes: BOTH },
    needs: ['node-access'],
    what: 'the node\'s kubelet stops while its containers keep running; started again after `downFor`',
  },
  'pod-delete': {
    hold: 'downFor',
    on: { kind: BOTH, kubernetes: BOTH },
    needs: [],
    what: 'delete of the member pod through the API',
  },
  'pod-force-delete': {
    hold: 'downFor',
    on: { kind: BOTH, kubernetes: BOTH },
    needs: [],
    what: 'delete of the member pod with grace period 0',
  },
  'storage-stall': {
    hold: 'duration',
    on: { baremetal: BOTH, docker: SINGLE, kind: BOTH },
    needs: ['emulated-volume'],
    what: 'every I/O of the node\'s remote volume blocks for `duration`',
  },
  'storage-error': {
    hold: 'duration',
    // docker and kind prepare their remote volumes without the plan's error rate; until a test
    // proves them, the planner refuses storage-error there rather than fail at injection.
    on: { baremetal: BOTH },
    needs: ['emulated-volume', 'one-error-rate'],
    what: 'a share `errorRate` of the remote volume\'s I/O fails (EIO) for `duration`',
  },
} as const satisfies Record<string, FaultKind>;

export type FaultType = keyof typeof FAULT_CATALOG;
export const FAULT_TYPES = Object.keys(FAULT_CATALOG) as [FaultType, ...FaultType[]];

export function faultKind(type: FaultType): FaultKind {
  return FAULT_CATALOG[type];
}

/** Fault types a platform carries out for an engine, in catalog order. */
export function faultTypesOn(platform: PlatformName, engine: EngineKind, opts: { withNeeds?: FaultNeed[] } = {}): FaultType[] {
  return FAULT_TYPES.filter((t) => {
    const k: FaultKind = FAULT_CATALOG[t];
    if (!(k.on[platform] ?? []).includes(engine)) return false;
    return !opts.withNeeds || k.needs.every((n) => opts.withNeeds!.includes(n));
  });
}

/** The catalog as the Markdown table in profiles/README.md (a test keeps the two equal). */
export function faultCatalogMarkdown(): string {
  const platforms: PlatformName[] = ['baremetal', 'docker', 'kind', 'kubernetes'];
  const needText: Record<FaultNeed, string> = {
    'emulated-volume': 'remote storage without `storageClass`',
    'node-access': 'on `kubernetes`: `faultPolicy.nodeAccess: helper-pod`',
    'one-error-rate': 'one `errorRate` per target',
  };
  const rows = FAULT_TYPES.map((t) => {
    const k: FaultKind = FAULT_CATALOG[t];
    const on = platforms
      .filter((p) => k.on[p]?.length)
      .map((p) => (k.on[p]!.length === 2 ? p : `${p} (${k.on[p]!.join(', ')})`))
      .join(', ');
    return `| \`${t}\` | \`${k.hold}\` | ${on} | ${k.needs.map((n) => needText[n]).join('; ') || '—'} | ${k.what} |`;
  });
  return ['| type | held for | platforms (engines) | needs | what happens |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

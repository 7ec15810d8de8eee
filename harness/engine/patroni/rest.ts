// Patroni's REST API, as statebench uses it: who leads (`/cluster`), how one member sees itself
// (`/patroni`), the health endpoints HAProxy uses (`/primary`, `/replica`), and planned switchover.
// Every request carries its own deadline: a frozen member (SIGSTOP) accepts the TCP connection and
// never answers.
import { request } from 'node:http';

export interface RestResponse<T = unknown> {
  status: number;
  body: T | string;
}

export function restRequest<T = unknown>(port: number, method: 'GET' | 'POST' | 'OPTIONS', path: string, timeoutMs: number, body?: object): Promise<RestResponse<T>> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: T | string = text;
          try {
            parsed = text ? (JSON.parse(text) as T) : text;
          } catch {
            /* plain-text answer, e.g. a switchover result */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`Patroni REST ${method} ${path} on port ${port} did not answer within ${timeoutMs}ms`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(payload);
  });
}

/** One member as `/cluster` lists it (Patroni 3.x). */
export interface ClusterMember {
  name: string;
  /** `leader`, `sync_standby`, `replica`, `standby_leader`. */
  role: string;
  /** `running`, `starting`, `stopped`, `crashed`, `creating replica`, … (3.1+: `streaming`). */
  state: string;
  host?: string;
  port?: number;
  api_url?: string;
  timeline?: number;
  /** Bytes behind the leader's last reported position, or `unknown`. */
  lag?: number | 'unknown';
}

export interface ClusterView {
  members: ClusterMember[];
  pause?: boolean;
}

export interface MemberStatus {
  state: string;
  /** `master` (before 3.1 also for the primary), `primary`, `replica`. */
  role: string;
  timeline?: number;
  server_version?: number;
  database_system_identifier?: string;
  cluster_unlocked?: boolean;
  xlog?: { location?: number; received_location?: number; replayed_location?: number };
  replication?: { usename: string; application_name: string; client_addr: string; state: string; sync_state: string }[];
}

export async function getCluster(port: number, timeoutMs: number): Promise<ClusterView> {
  const r = await restRequest<ClusterView>(port, 'GET', '/cluster', timeoutMs);
  if (r.status !== 200 || typeof r.body !== 'object') throw new Error(`GET /cluster on port ${port} answered ${r.status}`);
  return r.body;
}

/** `/patroni` answers 200 with the member's own view, whatever its role. */
export async function getStatus(port: number, timeoutMs: number): Promise<MemberStatus> {
  const r = await restRequest<MemberStatus>(port, 'GET', '/patroni', timeoutMs);
  if (typeof r.body !== 'object') throw new Error(`GET /patroni on port ${port} answered ${r.status}`);
  return r.body;
}

/** Status code of a health endpoint (`/primary`, `/replica`, `/health`, …); 0 when it does not answer. */
export async function healthCode(port: number, path: string, timeoutMs: number): Promise<number> {
  try {
    return (await restRequest(port, 'OPTIONS', path, timeoutMs)).status;
  } catch {
    return 0;
  }
}

export function isPrimaryRole(role: string | undefined): boolean {
  return role === 'master' || role === 'primary';
}

export function leaderOf(view: ClusterView): string | null {
  return view.members.find((m) => m.role === 'leader')?.name ?? null;
}

/**
 * Planned switchover through the leader's REST API. Patroni answers once the switch is done (200) or
 * refuses (412: no suitable candidate, 503: the DCS could not be written).
 */
export async function switchover(port: number, leader: string, candidate: string | undefined, timeoutMs: number): Promise<string> {
  const r = await restRequest(port, 'POST', '/switchover', timeoutMs, candidate ? { leader, candidate } : { leader });
  const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  if (r.status !== 200) throw new Error(`switchover from ${leader}${candidate ? ` to ${candidate}` : ''} refused (${r.status}): ${text}`);
  return text;
}

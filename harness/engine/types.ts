// What the rest of statebench sees of a database, whatever platform runs it.
import type { HaSummary } from '../model/summary.ts';

export type { HaSummary };

export interface ConnInfo {
  host: string;
  port: number;
  user: string;
  database: string;
  /** Never written to reports or logs. */
  password?: string;
}

/**
 * A node's process-level controls. Bare metal signals a process group; a container platform maps the
 * same verbs onto `docker kill/pause/unpause/start`.
 */
export interface NodeControl {
  /** Power cut: every process of the node dies at once, nothing is flushed. */
  kill(): Promise<void>;
  /** Freeze every process of the node (SIGSTOP / docker pause). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Start the node's database again after kill/stop; returns when it accepts connections. */
  start(): Promise<void>;
  /** Clean, fast shutdown. */
  stop(): Promise<void>;
  readonly running: boolean;
}

export interface EngineNode {
  name: string;
  conn: ConnInfo;
  control: NodeControl;
}

export interface DeployedEngine {
  readonly kind: string;
  readonly nodes: EngineNode[];
  /** Where clients connect: the primary, or the access path in front of it. */
  clientConn(): ConnInfo;
  /** The node currently acting as primary. */
  primary(): Promise<EngineNode>;
  /** Resolves when the engine accepts writes again; rejects after `timeoutMs`. */
  awaitHealthy(timeoutMs: number): Promise<void>;
  /** e.g. "PostgreSQL 17.10". */
  version(): Promise<string>;
  stop(): Promise<void>;
}

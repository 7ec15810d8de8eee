// A single PostgreSQL server as a DeployedEngine, whatever runs it: the platform supplies the node
// (a host process, a container) and its controls; the engine side is the same everywhere.
import { awaitWritable, serverVersion } from './pg.ts';
import type { ConnInfo, DeployedEngine, EngineNode, NodeControl } from './types.ts';

export class SinglePostgres<N extends NodeControl & { readonly conn: ConnInfo }> implements DeployedEngine {
  readonly kind = 'postgres';
  readonly nodes: EngineNode[];

  constructor(
    protected readonly node: N,
    name = 'node-0',
  ) {
    this.nodes = [{ name, conn: node.conn, control: node }];
  }

  clientConn(): ConnInfo {
    return this.node.conn;
  }

  async primary(): Promise<EngineNode> {
    return this.nodes[0];
  }

  awaitHealthy(timeoutMs: number): Promise<void> {
    return awaitWritable(this.node.conn, timeoutMs);
  }

  version(): Promise<string> {
    return serverVersion(this.node.conn);
  }

  stop(): Promise<void> {
    return this.node.stop();
  }
}

// `local` storage as a plain directory on the host's filesystem, one per node.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Storage, StorageContext, Volume } from './types.ts';

export class LocalDirectoryStorage implements Storage {
  readonly kind = 'local';

  async prepare(node: string, ctx: StorageContext): Promise<Volume> {
    const path = join(ctx.stateDir, 'volumes', node);
    mkdirSync(path, { recursive: true, mode: 0o755 });
    const reg = ctx.registry.add({ kind: 'dir', id: path, what: `volume of ${node}` }, async () => rmSync(path, { recursive: true, force: true }));
    return { node, path, describe: { kind: 'local', filesystem: 'directory' }, release: () => reg.release() };
  }
}

// Chunks of a generated data set made on other threads, so the thread that drives the COPY streams
// only moves bytes. A chunk's bytes come back transferred, not copied. Chunks are deterministic
// (chunked-copy.ts), so it does not matter which thread makes which.
import { Worker } from 'node:worker_threads';
import type { GeneratedChunk } from './chunked-copy.ts';

/** How a thread rebuilds the data set: a module, its exported class, the constructor's arguments. */
export interface DataSetRecipe {
  module: string;
  exportName: string;
  args: unknown[];
}

const THREAD = new URL('./generator-thread.mjs', import.meta.url);

interface Waiter<C> {
  resolve(c: C): void;
  reject(e: Error): void;
}

export class GeneratorThreads<C extends GeneratedChunk> {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, Waiter<C>[]>();
  private readonly load: number[] = [];
  private closed = false;
  /** Resolves once every thread has built its data set; rejects if one fails to start. */
  readonly ready: Promise<void>;

  constructor(recipe: DataSetRecipe, threads: number) {
    const started: Promise<void>[] = [];
    for (let i = 0; i < threads; i++) {
      const w = new Worker(THREAD, { workerData: recipe, execArgv: [] });
      this.load.push(0);
      started.push(
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
          w.once('exit', () => reject(new Error('generator thread exited before it was ready')));
        }),
      );
      w.on('message', (m: { chunk: number; ok: boolean; rest?: object; buffer?: ArrayBuffer; byteOffset?: number; length?: number; message?: string }) => {
        if ((m as { ready?: boolean }).ready) return;
        this.load[i]--;
        const ws = this.waiting.get(m.chunk) ?? [];
        this.waiting.delete(m.chunk);
        if (m.ok) {
          const c = { ...m.rest, data: Buffer.from(m.buffer!, m.byteOffset, m.length) } as C;
          for (const x of ws) x.resolve(c);
        } else {
          for (const x of ws) x.reject(new Error(`generating chunk ${m.chunk} failed: ${m.message}`));
        }
      });
      w.on('error', (e) => this.failAll(e));
      w.unref();
      this.workers.push(w);
    }
    this.ready = Promise.all(started).then(() => {});
    this.ready.catch(() => {});
  }

  /** The chunk, from the least busy thread. */
  generate(chunk: number): Promise<C> {
    if (this.closed) return Promise.reject(new Error('generator threads are closed'));
    return new Promise<C>((resolve, reject) => {
      const ws = this.waiting.get(chunk);
      if (ws) return ws.push({ resolve, reject });
      this.waiting.set(chunk, [{ resolve, reject }]);
      let best = 0;
      for (let i = 1; i < this.load.length; i++) if (this.load[i] < this.load[best]) best = i;
      this.load[best]++;
      this.workers[best].postMessage({ chunk });
    });
  }

  private failAll(e: Error): void {
    for (const ws of this.waiting.values()) for (const w of ws) w.reject(e);
    this.waiting.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('generator threads closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

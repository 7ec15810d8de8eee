// A chunk generator thread: builds the data set named by workerData (a module exporting a
// ChunkedDataSet class, and its constructor arguments) and generates the chunks it is asked for,
// handing each chunk's bytes back without a copy. Source modules are TypeScript, so the thread first
// registers the same loader the CLI runs under.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const mod = await import(workerData.module);
const ds = new mod[workerData.exportName](...workerData.args);
parentPort.on('message', ({ chunk }) => {
  try {
    const c = ds.generate(chunk);
    const { data, ...rest } = c;
    parentPort.postMessage({ chunk, ok: true, rest, buffer: data.buffer, byteOffset: data.byteOffset, length: data.length }, [data.buffer]);
  } catch (e) {
    parentPort.postMessage({ chunk, ok: false, message: e.message });
  }
});
parentPort.postMessage({ ready: true });

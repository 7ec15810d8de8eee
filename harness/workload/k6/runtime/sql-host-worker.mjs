// Worker-thread entry of the SQL host: VU ports arrive from the coordinator over parentPort.
import { parentPort } from 'node:worker_threads';
import { attachVu, closeAll, connectionCount, terminateBackends } from './sql-host.mjs';

parentPort.on('message', async (m) => {
  if (m.t === 'attach') attachVu(m.port, m.sab, m.vu);
  else if (m.t === 'terminate') {
    await terminateBackends(m.vus);
    parentPort.postMessage({ t: 'terminated', id: m.id });
  }
  else if (m.t === 'count') parentPort.postMessage({ t: 'count', n: connectionCount() });
  else if (m.t === 'close') {
    await closeAll();
    parentPort.postMessage({ t: 'closed' });
    parentPort.close();
  }
});

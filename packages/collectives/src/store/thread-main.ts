// The store's worker thread (see thread.ts): serves the store and reports its port. It ends by
// itself once it was told to close and the last client has gone.
import { parentPort, workerData } from 'node:worker_threads';
import { DistributedError } from '../errors.ts';
import { StoreServer } from './server.ts';
import type { ThreadReport } from './thread.ts';

const parent = parentPort;
if (!parent) throw new Error('thread-main.ts runs as the store worker thread of @tessera/collectives');
const { port: listenPort, host } = workerData as { port: number; host?: string };
try {
  const server = await StoreServer.listen(listenPort, host);
  parent.on('message', (m) => {
    if (m !== 'close') return;
    server.close();
    parent.unref(); // from now on only the connected clients keep the thread alive
  });
  parent.postMessage({ ok: true, port: server.port } satisfies ThreadReport);
} catch (err) {
  const e = err instanceof DistributedError ? err : new DistributedError('CONFIG', (err as Error).message);
  parent.postMessage({ ok: false, code: e.code, message: e.message } satisfies ThreadReport);
}

// Rank 0 serves the rendezvous store from a worker thread. The cpu backend's operations block the
// main thread until they are done, so a store served by rank 0's event loop would stop answering
// while rank 0 waits in a collective, and a rank still creating a group (which needs the store)
// would never arrive: both would hang until the timeout. On its own thread the store always
// answers. The thread lives while clients are connected, so rank 0's process stays up while
// other ranks still use the store.
import { Worker } from 'node:worker_threads';
import { DistributedError, type DistributedErrorCode } from '../errors.ts';

/** From the worker: the port it listens on, or why it could not. */
export type ThreadReport = { ok: true; port: number } | { ok: false; code: DistributedErrorCode; message: string };

// The sources run as .ts (the @tessera/source condition); a build bundles the entry as store-thread.js.
const ENTRY = import.meta.url.endsWith('.ts') ? new URL('./thread-main.ts', import.meta.url) : new URL('./store-thread.js', import.meta.url);

export class StoreThread {
  readonly port: number;
  readonly #worker: Worker;

  private constructor(worker: Worker, port: number) {
    this.#worker = worker;
    this.port = port;
  }

  /** Serves on `port` (0 picks a free one), or fails with PORT_IN_USE like StoreServer.listen. */
  static listen(port: number, host?: string): Promise<StoreThread> {
    // No inherited flags: the entry needs none, and some are not allowed in workers.
    const worker = new Worker(ENTRY, { workerData: { port, host }, execArgv: [] });
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(new DistributedError('CONFIG', `rank 0 cannot start the rendezvous store: ${err.message}`, { cause: err }));
      const exited = (code: number) => failed(new Error(`its thread exited with code ${code} before it listened`));
      worker.once('error', failed);
      worker.once('exit', exited);
      worker.once('message', (report: ThreadReport) => {
        worker.off('error', failed);
        worker.off('exit', exited);
        if (report.ok) {
          resolve(new StoreThread(worker, report.port));
        } else {
          void worker.terminate();
          reject(new DistributedError(report.code, report.message));
        }
      });
    });
  }

  /** Stops accepting clients; connected clients keep being served until they disconnect. */
  close(): void {
    this.#worker.postMessage('close');
  }

  /** Drops every client too (the process is going away). */
  destroy(): void {
    void this.#worker.terminate();
  }
}

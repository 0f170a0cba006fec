// The rendezvous store's server, run by rank 0: a key-value map with blocking reads. Waiting reads
// are answered when their keys appear, or with a timeout error when their deadline passes, so no
// client waits forever. The listening socket does not keep the process alive, but connected
// clients do: rank 0 stays up while other ranks still use the store.
import net from 'node:net';
import { DistributedError, seconds } from '../errors.ts';
import { LineSplitter, type StoreRequest, type StoreResponse } from './protocol.ts';

interface Waiter {
  keys: string[];
  socket: net.Socket;
  reply: () => void;
  timer: NodeJS.Timeout;
}

export class StoreServer {
  readonly port: number;
  readonly #server: net.Server;
  readonly #data = new Map<string, Buffer>();
  readonly #waiters = new Set<Waiter>();
  readonly #sockets = new Set<net.Socket>();

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Serves on `port` (0 picks a free one) on every interface, or fails with PORT_IN_USE. */
  static listen(port: number, host?: string): Promise<StoreServer> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(
            new DistributedError(
              'PORT_IN_USE',
              `rank 0 cannot serve the rendezvous store on port ${port}: the port is in use (another job, or a rank of an ` +
                'earlier run that is still alive?). Pick a free MASTER_PORT, or let `tessera launch` choose one',
            ),
          );
        } else {
          reject(new DistributedError('CONFIG', `rank 0 cannot serve the rendezvous store on port ${port}: ${err.message}`));
        }
      });
      server.listen({ port, host }, () => {
        const address = server.address() as net.AddressInfo;
        const store = new StoreServer(server, address.port);
        server.on('connection', (socket) => store.#accept(socket));
        server.on('error', () => {}); // after listening, errors concern single connections
        server.unref();
        resolve(store);
      });
    });
  }

  /** Stops accepting clients; connected clients keep being served until they disconnect. */
  close(): void {
    this.#server.close();
  }

  /** Drops every client too (the process is going away). */
  destroy(): void {
    this.#server.close();
    for (const w of this.#waiters) clearTimeout(w.timer);
    this.#waiters.clear();
    for (const s of this.#sockets) s.destroy();
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const lines = new LineSplitter();
    socket.on('data', (chunk) => {
      for (const line of lines.push(chunk)) {
        let req: StoreRequest;
        try {
          req = JSON.parse(line) as StoreRequest;
        } catch {
          socket.destroy();
          return;
        }
        this.#handle(socket, req);
      }
    });
    const drop = () => {
      this.#sockets.delete(socket);
      for (const w of this.#waiters) {
        if (w.socket === socket) {
          clearTimeout(w.timer);
          this.#waiters.delete(w);
        }
      }
    };
    socket.on('close', drop);
    socket.on('error', () => socket.destroy());
  }

  #send(socket: net.Socket, res: StoreResponse): void {
    if (!socket.destroyed) socket.write(`${JSON.stringify(res)}\n`);
  }

  #set(key: string, value: Buffer): void {
    this.#data.set(key, value);
    for (const w of this.#waiters) {
      if (w.keys.includes(key) && w.keys.every((k) => this.#data.has(k))) {
        clearTimeout(w.timer);
        this.#waiters.delete(w);
        w.reply();
      }
    }
  }

  // Answers once every key exists, or with a TIMEOUT error naming the missing keys.
  #whenPresent(socket: net.Socket, id: number, keys: string[], timeoutMs: number, reply: () => void): void {
    if (keys.every((k) => this.#data.has(k))) {
      reply();
      return;
    }
    const waiter: Waiter = {
      keys,
      socket,
      reply,
      timer: setTimeout(() => {
        this.#waiters.delete(waiter);
        const missing = keys.filter((k) => !this.#data.has(k));
        this.#send(socket, { id, ok: false, code: 'TIMEOUT', error: `after ${seconds(timeoutMs)}, key(s) ${missing.map((k) => `'${k}'`).join(', ')} still missing` });
      }, timeoutMs),
    };
    this.#waiters.add(waiter);
  }

  #handle(socket: net.Socket, req: StoreRequest): void {
    const ok = (extra: Omit<Extract<StoreResponse, { ok: true }>, 'id' | 'ok'> = {}) => this.#send(socket, { id: req.id, ok: true, ...extra });
    switch (req.op) {
      case 'set':
        this.#set(req.key, Buffer.from(req.value, 'base64'));
        ok();
        return;
      case 'get':
        this.#whenPresent(socket, req.id, [req.key], req.timeoutMs, () => ok({ value: (this.#data.get(req.key) as Buffer).toString('base64') }));
        return;
      case 'wait':
        this.#whenPresent(socket, req.id, req.keys, req.timeoutMs, () => ok());
        return;
      case 'add': {
        const current = this.#data.get(req.key);
        const next = (current ? Number(current.toString()) : 0) + req.delta;
        this.#set(req.key, Buffer.from(String(next)));
        ok({ num: next });
        return;
      }
      case 'delete':
        ok({ flags: [this.#data.delete(req.key)] });
        return;
      case 'cas': {
        // Sets `desired` when the current value equals `expected` ('' matches a missing key);
        // answers with the value after the operation.
        const current = this.#data.get(req.key);
        const currentText = current ? current.toString('base64') : '';
        if (currentText === req.expected) this.#set(req.key, Buffer.from(req.desired, 'base64'));
        ok({ value: (this.#data.get(req.key) ?? Buffer.alloc(0)).toString('base64') });
        return;
      }
      case 'has':
        ok({ flags: req.keys.map((k) => this.#data.has(k)) });
        return;
      default:
        this.#send(socket, { id: (req as { id: number }).id, ok: false, code: 'INVALID', error: `unknown store op '${(req as { op: string }).op}'` });
    }
  }
}

// The rendezvous store's client: how ranks exchange addresses, NCCL ids and counters through rank
// 0. Connecting retries until a deadline (rank 0 may start later than the others); every request
// has a deadline too, so a missing key or a dead rank 0 becomes an error, never a hang.
import net from 'node:net';
import { DistributedError, seconds } from '../errors.ts';
import { decodeValue, encodeValue, LineSplitter, type StoreRequest, type StoreResponse } from './protocol.ts';

export interface StoreOptions {
  /** Deadline of each request, and of blocking reads unless given per call (default 300 s). */
  timeoutMs?: number;
  /** How long to keep trying to reach the server (default: timeoutMs). */
  connectTimeoutMs?: number;
}

type Ok = Extract<StoreResponse, { ok: true }>;
type RequestBody = StoreRequest extends infer R ? (R extends StoreRequest ? Omit<R, 'id'> : never) : never;

interface Pending {
  resolve: (res: Ok) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

const DEFAULT_TIMEOUT_MS = 300_000;
// A waiting read's own timeout is enforced by the server; the client allows this much more
// before it gives up on the server itself.
const SERVER_GRACE_MS = 5_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function attempt(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('connection attempt timed out'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

export class TcpStore {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly #socket: net.Socket;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: DistributedError | undefined;

  private constructor(socket: net.Socket, host: string, port: number, timeoutMs: number) {
    this.#socket = socket;
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.unref();
    const lines = new LineSplitter();
    socket.on('data', (chunk) => {
      for (const line of lines.push(chunk)) this.#onResponse(JSON.parse(line) as StoreResponse);
    });
    socket.on('error', () => {});
    socket.on('close', () =>
      this.#fail(
        new DistributedError(
          'PEER_LOST',
          `lost the connection to the rendezvous store at ${host}:${port} (rank 0, which serves it, exited or the network failed)`,
        ),
      ),
    );
  }

  /** Connects to the store at host:port, retrying until connectTimeoutMs has passed. */
  static async connect(host: string, port: number, options: StoreOptions = {}): Promise<TcpStore> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const budget = options.connectTimeoutMs ?? timeoutMs;
    const deadline = Date.now() + budget;
    let delay = 50;
    for (;;) {
      const remaining = deadline - Date.now();
      try {
        const socket = await attempt(host, port, Math.max(1, Math.min(remaining, 10_000)));
        return new TcpStore(socket, host, port, timeoutMs);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        if (Date.now() + delay >= deadline) {
          throw new DistributedError(
            'UNREACHABLE',
            `cannot reach the rendezvous store at ${host}:${port} within ${seconds(budget)} (${code}). Check that rank 0 is ` +
              'running, that MASTER_ADDR and MASTER_PORT name its host and port, and that the port is reachable from here',
            { cause: err },
          );
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  /** This end's IP address on the connection to rank 0 (an address other machines can reach). */
  get localAddress(): string {
    return this.#socket.localAddress ?? '127.0.0.1';
  }

  set(key: string, value: string | Uint8Array): Promise<void> {
    return this.#request({ op: 'set', key, value: encodeValue(value) }, `set('${key}')`).then(() => undefined);
  }

  /** The value of `key`, waiting (up to timeoutMs) for another rank to set it. */
  async get(key: string, timeoutMs = this.timeoutMs): Promise<Uint8Array> {
    const res = await this.#request({ op: 'get', key, timeoutMs }, `get('${key}')`, timeoutMs + SERVER_GRACE_MS);
    return decodeValue(res.value ?? '');
  }

  async getText(key: string, timeoutMs = this.timeoutMs): Promise<string> {
    return Buffer.from(await this.get(key, timeoutMs)).toString('utf8');
  }

  /** Adds delta to the integer at `key` (0 when missing) and returns the new value. */
  async add(key: string, delta = 1): Promise<number> {
    const res = await this.#request({ op: 'add', key, delta }, `add('${key}')`);
    return res.num as number;
  }

  /** Resolves once every key exists (up to timeoutMs). */
  async wait(keys: readonly string[], timeoutMs = this.timeoutMs): Promise<void> {
    await this.#request({ op: 'wait', keys: [...keys], timeoutMs }, `wait(${keys.length} key(s))`, timeoutMs + SERVER_GRACE_MS);
  }

  /** Removes `key`; true when it existed. */
  async delete(key: string): Promise<boolean> {
    const res = await this.#request({ op: 'delete', key }, `delete('${key}')`);
    return res.flags?.[0] ?? false;
  }

  /**
   * Sets `desired` when the current value equals `expected` (an empty `expected` matches a missing
   * key), atomically; returns the value after the operation.
   */
  async compareSet(key: string, expected: string | Uint8Array, desired: string | Uint8Array): Promise<Uint8Array> {
    const res = await this.#request({ op: 'cas', key, expected: encodeValue(expected), desired: encodeValue(desired) }, `compareSet('${key}')`);
    return decodeValue(res.value ?? '');
  }

  /** Whether each key exists now (no waiting). */
  async has(keys: readonly string[]): Promise<boolean[]> {
    const res = await this.#request({ op: 'has', keys: [...keys] }, 'has');
    return res.flags ?? [];
  }

  close(): void {
    this.#fail(new DistributedError('CLOSED', `the store client for ${this.host}:${this.port} was closed`));
    this.#socket.destroy();
  }

  #request(body: RequestBody, what: string, deadlineMs = this.timeoutMs): Promise<Ok> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise<Ok>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(id);
        reject(new DistributedError('TIMEOUT', `store.${what} got no answer from rank 0 within ${seconds(deadlineMs)} (is rank 0 stuck?)`));
      }, deadlineMs);
      this.#pending.set(id, { resolve, reject, timer, what });
      this.#socket.ref();
      this.#socket.write(`${JSON.stringify({ id, ...body })}\n`);
    });
  }

  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (p) {
      clearTimeout(p.timer);
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#socket.unref();
    }
    return p;
  }

  #onResponse(res: StoreResponse): void {
    const p = this.#settle(res.id);
    if (!p) return;
    if (res.ok) p.resolve(res);
    else if (res.code === 'TIMEOUT') p.reject(new DistributedError('TIMEOUT', `store.${p.what} timed out: ${res.error}`));
    else p.reject(new DistributedError(res.code, `store.${p.what} failed: ${res.error}`));
  }

  #fail(err: DistributedError): void {
    if (this.#closed) return;
    this.#closed = err;
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(err);
  }
}

// The cpu backend's connections: one socket per pair of ranks, shared by every cpu process group
// of the job and opened on demand when a group is created (the higher rank dials the lower one,
// whose address it finds in the store). Peers on this host connect over a Unix-domain socket,
// others over TCP. Sockets never keep the process alive on their own: every wait has a timer.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import { DistributedError, seconds } from '../errors.ts';
import type { TcpStore } from '../store/client.ts';
import { PeerConnection } from './connection.ts';
import { Channel, type FrameHeader, FrameType, NO_META } from './frame.ts';
import { Mailbox } from './mailbox.ts';
import { BufferPool } from './pool.ts';

export interface TransportOptions {
  rank: number;
  store: TcpStore;
  /** Shared by the job's ranks (set by rank 0): connections from other jobs are refused. */
  token: string;
  timeoutMs: number;
  /** The address other machines reach this one on (the local end of the store connection). */
  advertiseHost: string;
}

/** What a process group hears from the transport about its own frames. */
export interface GroupHooks {
  abort(fromRank: number, header: FrameHeader, message: string): void;
}

interface PeerAddress {
  hostname: string;
  host: string;
  port: number;
  path?: string;
}

interface PeerSlot {
  mailbox: Mailbox;
  conn?: PeerConnection;
  ready?: Promise<PeerConnection>;
  accepted?: (conn: PeerConnection) => void;
  lost?: DistributedError;
}

const HANDSHAKE_BYTES = 64;
const ACCEPT_HANDSHAKE_MS = 10_000;
const MAGIC = 'TSRA';

function handshake(rank: number, token: string): Buffer {
  const b = Buffer.alloc(HANDSHAKE_BYTES);
  b.write(MAGIC, 0, 'ascii');
  b.writeUInt32LE(rank, 4);
  b.write(token, 8, HANDSHAKE_BYTES - 8, 'ascii');
  return b;
}

function parseHandshake(b: Buffer, token: string): number | undefined {
  if (b.toString('ascii', 0, 4) !== MAGIC) return undefined;
  if (b.toString('ascii', 8, 8 + token.length) !== token) return undefined;
  return b.readUInt32LE(4);
}

/** Reads exactly HANDSHAKE_BYTES; resolves with them and whatever followed in the same chunk. */
function readHandshake(socket: net.Socket, timeoutMs: number): Promise<{ head: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no handshake within ${seconds(timeoutMs)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= HANDSHAKE_BYTES) finish(undefined);
    };
    const onEnd = () => finish(new Error('the connection closed during the handshake'));
    const finish = (err: Error | undefined) => {
      clearTimeout(timer);
      socket.pause(); // the connection's own reader resumes it

      socket.off('data', onData);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      if (err) reject(err);
      else resolve({ head: got.subarray(0, HANDSHAKE_BYTES), rest: got.subarray(HANDSHAKE_BYTES) });
    };
    socket.on('data', onData);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
  });
}

function addressKey(rank: number): string {
  return `tessera/cpu/addr/${rank}`;
}

export class CpuTransport {
  readonly rank: number;
  /** Send buffers, shared by the groups. */
  readonly pool = new BufferPool();
  readonly #opts: TransportOptions;
  readonly #servers: net.Server[];
  readonly #peers = new Map<number, PeerSlot>();
  readonly #groups = new Map<number, GroupHooks>();
  #closed = false;

  private constructor(opts: TransportOptions, servers: net.Server[]) {
    this.#opts = opts;
    this.rank = opts.rank;
    this.#servers = servers;
    for (const s of servers) {
      s.on('connection', (socket) => this.#accept(socket));
      s.unref();
    }
  }

  /** Listens (TCP on every interface, plus a Unix-domain socket) and publishes the address. */
  static async start(opts: TransportOptions): Promise<CpuTransport> {
    const listen = (server: net.Server, arg: net.ListenOptions) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(arg, () => {
          server.off('error', reject);
          resolve();
        });
      });
    const tcp = net.createServer();
    await listen(tcp, { port: 0 });
    const servers = [tcp];
    const address: PeerAddress = { hostname: os.hostname(), host: opts.advertiseHost, port: (tcp.address() as net.AddressInfo).port };
    if (process.platform === 'linux' && process.env.TESSERA_CPU_TRANSPORT !== 'tcp') {
      // An abstract socket name (leading NUL): nothing to clean up on disk. Where that is not
      // allowed, peers on this host use TCP like the others.
      const path = `\0tessera-${opts.token}-${opts.rank}-${randomBytes(4).toString('hex')}`;
      const uds = net.createServer();
      try {
        await listen(uds, { path });
        servers.push(uds);
        address.path = path;
      } catch {
        uds.close();
      }
    }
    const transport = new CpuTransport(opts, servers);
    await opts.store.set(addressKey(opts.rank), JSON.stringify(address));
    return transport;
  }

  register(gid: number, hooks: GroupHooks): void {
    this.#groups.set(gid, hooks);
  }

  unregister(gid: number): void {
    this.#groups.delete(gid);
  }

  mailbox(peer: number): Mailbox {
    return this.#slot(peer).mailbox;
  }

  /** Why `peer` can no longer be reached, if it can't. */
  lost(peer: number): DistributedError | undefined {
    return this.#slot(peer).lost;
  }

  /** Opens the connections to `peers` that do not exist yet (the higher rank of a pair dials). */
  async connect(peers: readonly number[], timeoutMs: number): Promise<void> {
    await Promise.all(peers.filter((p) => p !== this.rank).map((p) => this.#ensure(p, timeoutMs)));
  }

  /** Sends a frame with its payload in pieces (to itself: a copy straight into its own mailbox). */
  async send(peer: number, header: FrameHeader, payload: readonly Uint8Array[] = []): Promise<void> {
    if (peer === this.rank) {
      this.#onFrame(peer, header, payload.map((p) => Buffer.from(p)));
      return;
    }
    const slot = this.#slot(peer);
    if (slot.lost) throw slot.lost;
    if (!slot.conn) throw new DistributedError('INVALID', `rank ${this.rank} has no connection to rank ${peer} (not in a common process group)`);
    try {
      await slot.conn.send(header, payload);
    } catch (err) {
      throw slot.lost ?? new DistributedError('PEER_LOST', `cannot send to rank ${peer}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Says goodbye to every peer and stops listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const bye: FrameHeader = { type: FrameType.bye, channel: Channel.collective, gid: 0, seq: 0, meta: NO_META, length: 0 };
    for (const s of this.#servers) s.close();
    for (const [peer, slot] of this.#peers) {
      slot.conn?.close(bye);
      slot.mailbox.close(new DistributedError('CLOSED', `rank ${this.rank} destroyed its process groups; rank ${peer} is no longer reachable from it`));
    }
  }

  #slot(peer: number): PeerSlot {
    let slot = this.#peers.get(peer);
    if (!slot) {
      slot = { mailbox: new Mailbox() };
      this.#peers.set(peer, slot);
    }
    return slot;
  }

  #ensure(peer: number, timeoutMs: number): Promise<PeerConnection> {
    const slot = this.#slot(peer);
    if (slot.lost) return Promise.reject(slot.lost);
    if (slot.conn) return Promise.resolve(slot.conn);
    if (!slot.ready) {
      slot.ready = peer < this.rank ? this.#dial(peer, timeoutMs) : this.#awaitDial(slot, peer, timeoutMs);
      slot.ready.catch(() => {
        slot.ready = undefined;
      });
    }
    return slot.ready;
  }

  async #dial(peer: number, timeoutMs: number): Promise<PeerConnection> {
    const deadline = Date.now() + timeoutMs;
    let address: PeerAddress;
    try {
      address = JSON.parse(await this.#opts.store.getText(addressKey(peer), timeoutMs)) as PeerAddress;
    } catch (err) {
      throw new DistributedError(
        'UNREACHABLE',
        `rank ${this.rank} cannot find rank ${peer}'s cpu backend address in the store within ${seconds(timeoutMs)}: is rank ${peer} running and using the cpu backend?`,
        { cause: err },
      );
    }
    const local = address.path !== undefined && address.hostname === os.hostname() && process.env.TESSERA_CPU_TRANSPORT !== 'tcp';
    let lastError: Error | undefined;
    for (let delay = 20; Date.now() < deadline; delay = Math.min(delay * 2, 500)) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = local ? net.connect({ path: address.path as string }) : net.connect({ host: address.host, port: address.port });
          s.once('connect', () => {
            s.off('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        });
        try {
          socket.write(handshake(this.rank, this.#opts.token));
          const { head, rest } = await readHandshake(socket, Math.max(1, deadline - Date.now()));
          if (parseHandshake(head, this.#opts.token) !== peer) {
            throw new Error(`the process at rank ${peer}'s address is not rank ${peer} of this job`);
          }
          return this.#adopt(peer, socket, rest);
        } catch (err) {
          socket.on('error', () => {});
          socket.destroy();
          throw err;
        }
      } catch (err) {
        lastError = err as Error;
        await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
      }
    }
    const where = local ? 'its Unix-domain socket' : `${address.host}:${address.port}`;
    throw new DistributedError(
      'UNREACHABLE',
      `rank ${this.rank} cannot connect to rank ${peer} at ${where} within ${seconds(timeoutMs)} (${lastError?.message ?? 'no answer'})`,
    );
  }

  #awaitDial(slot: PeerSlot, peer: number, timeoutMs: number): Promise<PeerConnection> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.accepted = undefined;
        reject(
          new DistributedError(
            'TIMEOUT',
            `rank ${peer} did not connect to rank ${this.rank} within ${seconds(timeoutMs)}: did it create the same process group ` +
              '(every listed rank must call newGroup with the same ranks), and is it still running?',
          ),
        );
      }, timeoutMs);
      slot.accepted = (conn) => {
        clearTimeout(timer);
        slot.accepted = undefined;
        resolve(conn);
      };
      if (slot.conn) slot.accepted(slot.conn);
    });
  }

  async #accept(socket: net.Socket): Promise<void> {
    try {
      // A real peer sends its handshake at once; anything else is dropped soon.
      const { head, rest } = await readHandshake(socket, ACCEPT_HANDSHAKE_MS);
      const peer = parseHandshake(head, this.#opts.token);
      if (peer === undefined || peer <= this.rank) {
        socket.destroy();
        return;
      }
      socket.write(handshake(this.rank, this.#opts.token));
      const conn = this.#adopt(peer, socket, rest);
      this.#slot(peer).accepted?.(conn);
    } catch {
      socket.destroy();
    }
  }

  #adopt(peer: number, socket: net.Socket, rest: Buffer): PeerConnection {
    const slot = this.#slot(peer);
    const conn = new PeerConnection(
      socket,
      peer,
      {
        frame: (header, payload) => this.#onFrame(peer, header, payload),
        closed: (graceful, error) => this.#onClosed(peer, graceful, error),
      },
      rest,
    );
    conn.unref();
    slot.conn = conn;
    return conn;
  }

  #onFrame(peer: number, header: FrameHeader, payload: Buffer[]): void {
    if (header.type === FrameType.data) {
      this.#slot(peer).mailbox.deliver(messageKey(header.gid, header.channel, header.seq), { header, payload });
    } else if (header.type === FrameType.abort) {
      this.#groups.get(header.gid)?.abort(peer, header, Buffer.concat(payload).toString('utf8'));
    }
  }

  #onClosed(peer: number, graceful: boolean, error: Error | undefined): void {
    const slot = this.#slot(peer);
    if (this.#closed) return;
    const reason = graceful
      ? new DistributedError('PEER_LOST', `rank ${peer} has shut down its process groups (destroy()) and sends nothing more`)
      : new DistributedError(
          'PEER_LOST',
          `rank ${peer} exited or crashed: its connection closed unexpectedly${error ? ` (${(error as NodeJS.ErrnoException).code ?? error.message})` : ''}`,
        );
    slot.lost = reason;
    slot.conn = undefined;
    slot.mailbox.close(reason);
  }
}

export function messageKey(gid: number, channel: number, seq: number): string {
  return `${gid}:${channel}:${seq}`;
}

// One socket to one peer rank, carrying frames both ways. It tells its owner about every frame and
// about the end of the connection: after a BYE frame the peer left on purpose (destroy()),
// otherwise its process exited or crashed.
import type net from 'node:net';
import { encodeHeader, type FrameHeader, FrameParser, FrameType } from './frame.ts';

export interface ConnectionEvents {
  frame(header: FrameHeader, payload: Buffer[]): void;
  /** The connection is gone; `graceful` when the peer said BYE first. */
  closed(graceful: boolean, error: Error | undefined): void;
}

export class PeerConnection {
  readonly peer: number;
  readonly #socket: net.Socket;
  #saidBye = false;
  #open = true;

  constructor(socket: net.Socket, peer: number, events: ConnectionEvents, leftover?: Buffer) {
    this.peer = peer;
    this.#socket = socket;
    socket.setNoDelay(true);
    let lastError: Error | undefined;
    const parser = new FrameParser((header, payload) => {
      if (header.type === FrameType.bye) this.#saidBye = true;
      else events.frame(header, payload);
    });
    socket.on('data', (chunk: Buffer) => parser.push(chunk));
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.on('close', () => {
      this.#open = false;
      events.closed(this.#saidBye, lastError);
    });
    if (leftover && leftover.length > 0) parser.push(leftover);
    socket.resume();
  }

  get open(): boolean {
    return this.#open && !this.#socket.destroyed;
  }

  /** Queues a frame (its payload in pieces); resolves once the bytes are handed to the operating system. */
  send(header: FrameHeader, payload: readonly Uint8Array[]): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.open) {
        reject(new Error('the connection is closed'));
        return;
      }
      const parts = payload.filter((p) => p.byteLength > 0);
      const done = (err: Error | null | undefined) => (err ? reject(err) : resolve());
      this.#socket.cork();
      this.#socket.write(encodeHeader(header), parts.length === 0 ? done : undefined);
      for (const [i, p] of parts.entries()) this.#socket.write(p, i === parts.length - 1 ? done : undefined);
      this.#socket.uncork();
    });
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }

  /** Says BYE (so the peer knows this was on purpose) and closes after pending writes. */
  close(bye: FrameHeader): void {
    if (!this.open) return;
    this.#socket.write(encodeHeader(bye));
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

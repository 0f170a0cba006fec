// CUDA streams and events. Kernels go to the device's current stream and return at once; events
// order work between streams (e.g. communication against compute) and time it.
import { type DeviceLike, deviceIndex, parseDevice } from './device.ts';
import { nb } from './native.ts';

function cudaIndex(device: DeviceLike): number {
  const d = parseDevice(device);
  if (d === 'cpu') throw new Error('streams and events exist on CUDA devices only');
  return deviceIndex(d);
}

export class Stream {
  readonly device: number;
  readonly handle: number;
  readonly #owned: boolean;

  private constructor(device: number, handle: number, owned: boolean) {
    this.device = device;
    this.handle = handle;
    this.#owned = owned;
  }

  /** A new stream on a CUDA device. */
  static create(device: DeviceLike = 'cuda'): Stream {
    const d = cudaIndex(device);
    return new Stream(d, nb.streamCreate(d), true);
  }

  /** The stream that kernels on `device` are currently queued on. */
  static current(device: DeviceLike = 'cuda'): Stream {
    const d = cudaIndex(device);
    return new Stream(d, nb.currentStream(d), false);
  }

  /** Runs fn with this stream current on its device, then restores the previous one. */
  run<T>(fn: () => T): T {
    const previous = nb.currentStream(this.device);
    nb.setCurrentStream(this.device, this.handle);
    try {
      return fn();
    } finally {
      nb.setCurrentStream(this.device, previous);
    }
  }

  /** Makes later work on this stream wait for the event (without blocking the host). */
  waitEvent(event: Event): void {
    nb.streamWaitEvent(this.handle, event.handle);
  }

  synchronize(): void {
    nb.streamSynchronize(this.handle);
  }

  dispose(): void {
    if (this.#owned) nb.streamDestroy(this.handle);
  }
}

export class Event {
  readonly device: number;
  readonly handle: number;

  constructor(device: DeviceLike = 'cuda', options: { timing?: boolean } = {}) {
    this.device = cudaIndex(device);
    this.handle = nb.eventCreate(this.device, options.timing ?? false);
  }

  /** Records the event on a stream (the device's current stream by default). */
  record(stream?: Stream): this {
    nb.eventRecord(this.handle, stream?.handle ?? nb.currentStream(this.device));
    return this;
  }

  synchronize(): void {
    nb.eventSynchronize(this.handle);
  }

  /** True once all work before the record has finished. */
  query(): boolean {
    return nb.eventQuery(this.handle);
  }

  /** Milliseconds between this event and a later one (both created with timing). */
  elapsedMs(end: Event): number {
    return nb.eventElapsedMs(this.handle, end.handle);
  }

  dispose(): void {
    nb.eventDestroy(this.handle);
  }
}

// Storage: one native allocation shared by the tensors that view it. Reference counted, so the
// memory goes back the moment the last tensor (or autograd's saved copy) lets go, never by GC.
import { deviceIndex, type Device } from './device.ts';
import { nb } from './native.ts';

export class Storage {
  readonly handle: number;
  readonly bytes: number;
  readonly device: Device;
  #refs = 0;

  constructor(device: Device, bytes: number) {
    this.device = device;
    this.bytes = bytes;
    this.handle = nb.alloc(deviceIndex(device), bytes);
  }

  get refs(): number {
    return this.#refs;
  }

  retain(): void {
    this.#refs++;
  }

  release(): void {
    if (--this.#refs === 0) nb.free(this.handle);
  }
}

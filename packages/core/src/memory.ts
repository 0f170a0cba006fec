// Memory and device queries: bytes in use per device (like torch.cuda.memory_allocated and
// friends), the live tensor count, synchronisation.
import type { MemoryStats } from '@tessera/native';
import { type DeviceLike, deviceIndex, parseDevice } from './device.ts';
import { nb } from './native.ts';
import { Tensor } from './tensor.ts';

export type { MemoryStats };

/** allocated / peak / reserved bytes and the number of live allocations on a device. */
export function memoryStats(device: DeviceLike = 'cpu'): MemoryStats {
  return nb.memoryStats(deviceIndex(parseDevice(device)));
}

export function resetPeakMemoryStats(device: DeviceLike = 'cpu'): void {
  nb.resetPeakMemory(deviceIndex(parseDevice(device)));
}

/** Returns cached, unused device memory to the driver. */
export function emptyCache(device: DeviceLike = 'cuda'): void {
  nb.emptyCache(deviceIndex(parseDevice(device)));
}

/** Waits for all queued work on a device. */
export function synchronize(device: DeviceLike = 'cuda'): void {
  nb.synchronize(deviceIndex(parseDevice(device)));
}

/** Tensors created and not yet disposed (leak checks in tests). */
export function liveTensorCount(): number {
  return Tensor.liveCount;
}

export function setNumThreads(n: number): void {
  nb.setNumThreads(n);
}

export function getNumThreads(): number {
  return nb.numThreads();
}

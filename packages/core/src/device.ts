// Devices: 'cpu' and 'cuda:N'. Parsing, the default device, and what the native build offers.
import { nb } from './native.ts';

export type Device = 'cpu' | `cuda:${number}`;
export type DeviceLike = Device | 'cuda' | string;

/** Native device index: -1 for the host, N for cuda:N. */
export function deviceIndex(device: Device): number {
  return device === 'cpu' ? -1 : Number(device.slice(5));
}

export function cudaAvailable(): boolean {
  return nb.buildInfo().cuda && nb.cudaDeviceCount() > 0;
}

export function cudaDeviceCount(): number {
  return nb.buildInfo().cuda ? nb.cudaDeviceCount() : 0;
}

export function parseDevice(device: DeviceLike): Device {
  if (device === 'cpu') return 'cpu';
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) throw new TypeError(`unknown device '${device}'; use 'cpu', 'cuda' or 'cuda:N'`);
  const index = m[1] === undefined ? 0 : Number(m[1]);
  const count = cudaDeviceCount();
  if (index >= count) {
    const why = nb.buildInfo().cuda
      ? `${count} CUDA device(s) are visible`
      : 'this is the CPU build of @tessera/native (build the CUDA variant on a CUDA machine)';
    throw new Error(`device '${device}' is not available: ${why}`);
  }
  return `cuda:${index}`;
}

let defaultDevice: Device = 'cpu';

/** The device new tensors go to when none is given ('cpu' unless set). */
export function getDefaultDevice(): Device {
  return defaultDevice;
}

export function setDefaultDevice(device: DeviceLike): void {
  defaultDevice = parseDevice(device);
}

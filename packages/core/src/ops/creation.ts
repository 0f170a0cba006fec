// Creating tensors: from JS data, constants, ranges and random numbers.
import { numberToBf16, numberToF16 } from '@tessera/native';
import { type DeviceLike, getDefaultDevice, parseDevice, type Device } from '../device.ts';
import { bytesPerElement, checkDtype, type DType, isFloatingDtype } from '../dtype.ts';
import * as k from '../kernels.ts';
import { nb } from '../native.ts';
import type { Generator } from '../random.ts';
import { checkShape, numel, type Shape, shapeString } from '../shape.ts';
import { Tensor } from '../tensor.ts';

export interface TensorOptions {
  dtype?: DType;
  device?: DeviceLike;
  requiresGrad?: boolean;
}

export type NestedArray = number | boolean | readonly NestedArray[];
export type TensorData = NestedArray | ArrayLike<number> | ArrayLike<bigint> | ArrayBufferView;

function resolveDevice(device: DeviceLike | undefined): Device {
  return device === undefined ? getDefaultDevice() : parseDevice(device);
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) {
    if (!isFloatingDtype(t.dtype)) throw new Error(`only floating-point tensors can require grad, got ${t.dtype}`);
    t.requiresGrad = true;
  }
  return t;
}

function inferNested(data: NestedArray, shape: number[], flat: number[], depth: number): void {
  if (Array.isArray(data)) {
    if (shape.length === depth) shape.push(data.length);
    else if (shape[depth] !== data.length) {
      throw new Error(`tensor: ragged nested array (dimension ${depth} has lengths ${shape[depth]} and ${data.length})`);
    }
    for (const v of data) inferNested(v as NestedArray, shape, flat, depth + 1);
    return;
  }
  if (shape.length !== depth) throw new Error(`tensor: ragged nested array (a number at depth ${depth}, arrays elsewhere)`);
  if (typeof data === 'boolean') flat.push(data ? 1 : 0);
  else if (typeof data === 'number') flat.push(data);
  else throw new TypeError(`tensor: expected numbers, booleans or arrays, got ${typeof data}`);
}

/** Encodes numbers as the bytes of `dtype` (16-bit floats rounded to nearest even). */
export function encodeValues(values: ArrayLike<number> | ArrayLike<bigint>, dtype: DType): ArrayBufferView {
  const n = values.length;
  const num = (i: number) => Number(values[i]);
  switch (dtype) {
    case 'f32': return Float32Array.from({ length: n }, (_, i) => num(i));
    case 'f64': return Float64Array.from({ length: n }, (_, i) => num(i));
    case 'i32': return Int32Array.from({ length: n }, (_, i) => num(i));
    case 'i64': return BigInt64Array.from({ length: n }, (_, i) => (typeof values[i] === 'bigint' ? (values[i] as bigint) : BigInt(Math.trunc(num(i)))));
    case 'bool': return Uint8Array.from({ length: n }, (_, i) => (num(i) ? 1 : 0));
    case 'bf16': return Uint16Array.from({ length: n }, (_, i) => numberToBf16(num(i)));
    case 'f16': return Uint16Array.from({ length: n }, (_, i) => numberToF16(num(i)));
  }
}

function defaultDtypeFor(data: TensorData): DType {
  if (data instanceof Float64Array) return 'f64';
  if (data instanceof Int32Array || data instanceof Int16Array || data instanceof Int8Array || data instanceof Uint16Array) return 'i32';
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return 'i64';
  if (data instanceof Uint8Array) return 'i32';
  if (typeof data === 'boolean') return 'bool';
  return 'f32';
}

/**
 * A tensor from JS data: a number, nested arrays, or a typed array (flat, with `shape` to give
 * it dimensions). The default dtype is f32 (f64 for a Float64Array, i32/i64 for integer arrays).
 */
export function tensor(data: TensorData, opts: TensorOptions & { shape?: Shape } = {}): Tensor {
  const dtype = opts.dtype ? checkDtype(opts.dtype) : defaultDtypeFor(data);
  let shape: number[];
  let values: ArrayLike<number> | ArrayLike<bigint>;
  if (typeof data === 'number' || typeof data === 'boolean') {
    shape = [];
    values = [Number(data)];
  } else if (Array.isArray(data)) {
    shape = [];
    const flat: number[] = [];
    inferNested(data as NestedArray, shape, flat, 0);
    values = flat;
  } else if (ArrayBuffer.isView(data)) {
    values = data as unknown as ArrayLike<number>;
    shape = [values.length];
  } else {
    values = data as ArrayLike<number>;
    shape = [values.length];
  }
  if (opts.shape) {
    const target = checkShape([...opts.shape]);
    if (numel(target) !== values.length) {
      throw new Error(`tensor: ${values.length} values do not fill shape ${shapeString(target)} (${numel(target)} elements)`);
    }
    shape = target;
  }
  const out = Tensor._empty(shape, dtype, resolveDevice(opts.device));
  if (values.length > 0) nb.write(out.handle, 0, encodeValues(values, dtype));
  return finish(out, opts);
}

/** A tensor whose bytes are `raw` (already in `dtype`'s encoding; 16-bit floats as Uint16 bits). */
export function fromBytes(raw: ArrayBufferView, shape: Shape, dtype: DType, device?: DeviceLike): Tensor {
  const expected = numel(shape) * bytesPerElement(dtype);
  if (raw.byteLength !== expected) {
    throw new Error(`fromBytes: ${raw.byteLength} bytes given, ${dtype}${shapeString(shape)} needs ${expected}`);
  }
  const out = Tensor._empty(checkShape([...shape]), dtype, resolveDevice(device));
  if (expected > 0) nb.write(out.handle, 0, raw);
  return out;
}

export function empty(shape: Shape, opts: TensorOptions = {}): Tensor {
  return finish(Tensor._empty(checkShape([...shape]), checkDtype(opts.dtype ?? 'f32'), resolveDevice(opts.device)), opts);
}

export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  return finish(k.full(checkShape([...shape]), value, checkDtype(opts.dtype ?? 'f32'), resolveDevice(opts.device)), opts);
}

export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: Shape, opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

function likeOptions(t: Tensor, opts: TensorOptions): TensorOptions {
  return { dtype: opts.dtype ?? t.dtype, device: opts.device ?? t.device, requiresGrad: opts.requiresGrad };
}

export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(t.shape, likeOptions(t, opts));
}

export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return ones(t.shape, likeOptions(t, opts));
}

export function fullLike(t: Tensor, value: number, opts: TensorOptions = {}): Tensor {
  return full(t.shape, value, likeOptions(t, opts));
}

/** [start, start+step, ...) up to `end` (exclusive), like torch.arange. */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0) throw new Error('arange: step must not be zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const integral = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const dtype = checkDtype(opts.dtype ?? (integral ? 'i64' : 'f32'));
  return finish(k.arange(start, step, n, dtype, resolveDevice(opts.device)), opts);
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

/** Uniform numbers in [low, high) (default [0, 1)). */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const out = Tensor._empty(checkShape([...shape]), checkDtype(opts.dtype ?? 'f32'), resolveDevice(opts.device));
  return finish(k.randomInto(out, 0, opts.low ?? 0, opts.high ?? 1, opts.generator), opts);
}

/** Normal numbers with the given mean and standard deviation (default 0 and 1). */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const out = Tensor._empty(checkShape([...shape]), checkDtype(opts.dtype ?? 'f32'), resolveDevice(opts.device));
  return finish(k.randomInto(out, 1, opts.mean ?? 0, opts.std ?? 1, opts.generator), opts);
}

/** Integers uniform in [low, high) (24 random bits per draw: ranges up to 2^24 are uniform). */
export function randint(low: number, high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new Error(`randint: need integers low < high, got ${low} and ${high}`);
  }
  const dtype = checkDtype(opts.dtype ?? 'i64');
  if (isFloatingDtype(dtype) || dtype === 'bool') throw new Error(`randint: the dtype must be i32 or i64, got ${dtype}`);
  const u = Tensor._empty(checkShape([...shape]), 'f64', resolveDevice(opts.device));
  k.randomInto(u, 0, 0, high - low, opts.generator);
  // Non-negative, so the cast's truncation is a floor; then shift into [low, high).
  const clamped = k.unary('clamp', u, 0, high - low - 1);
  const offsets = k.cast(clamped, dtype);
  const out = k.unary('affine', offsets, 1, low);
  u.dispose();
  clamped.dispose();
  offsets.dispose();
  return out;
}

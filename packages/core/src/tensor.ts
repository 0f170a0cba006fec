// Tensor: a contiguous, typed view (shape, element offset) of a reference-counted Storage on one
// device, plus its autograd state. Reshapes are views; every other layout change is an explicit
// copy. Memory is released by dispose(), by scopes, or by `using` — never by the garbage collector.
import { bf16ToNumber, f16ToNumber } from '@tessera/native';
import type { Node } from './autograd/node.ts';
import type { Scope } from './context.ts';
import { type Device, deviceIndex } from './device.ts';
import { bytesPerElement, type DType } from './dtype.ts';
import { nb } from './native.ts';
import { track } from './scope.ts';
import { numel, type Shape, shapeString } from './shape.ts';
import { Storage } from './storage.ts';

export type GradHook = (param: Tensor) => void;

let liveTensors = 0;

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: Device;
  /** @internal */ _storage: Storage;
  /** @internal */ readonly _offset: number;
  /** Whether autograd computes a gradient for this tensor. */
  requiresGrad = false;
  /** Gradient accumulated by backward() (for leaves), unless a mainGrad buffer is attached. */
  grad: Tensor | null = null;
  /** fp32 buffer that receives this leaf's gradients instead of `.grad` (mixed precision). */
  mainGrad: Tensor | null = null;
  /** @internal */ _gradFn: Node | null = null;
  /** @internal */ _outputIndex = 0;
  /** @internal */ _scope: Scope | undefined = undefined;
  /** @internal */ _disposed = false;
  /** @internal */ _gradHooks: GradHook[] | undefined = undefined;

  /** @internal Use the creation functions (tensor, zeros, ...) instead. */
  constructor(storage: Storage, offset: number, shape: Shape, dtype: DType, tracked = true) {
    this._storage = storage;
    this._offset = offset;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.device = storage.device;
    storage.retain();
    liveTensors++;
    if (tracked) track(this);
  }

  /** @internal A new tensor of `shape` with fresh, uninitialised storage. */
  static _empty(shape: Shape, dtype: DType, device: Device): Tensor {
    const bytes = numel(shape) * bytesPerElement(dtype);
    return new Tensor(new Storage(device, bytes), 0, shape, dtype);
  }

  get rank(): number {
    return this.shape.length;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get numel(): number {
    return numel(this.shape);
  }
  get gradFn(): Node | null {
    return this._gradFn;
  }
  get isLeaf(): boolean {
    return this._gradFn === null;
  }
  get disposed(): boolean {
    return this._disposed;
  }
  /** Native storage handle and element offset, for code that calls the binding directly. */
  get handle(): number {
    return this._check()._storage.handle;
  }
  get offset(): number {
    return this._offset;
  }
  get nativeDevice(): number {
    return deviceIndex(this.device);
  }

  static get liveCount(): number {
    return liveTensors;
  }

  /** @internal Throws if the tensor was disposed. */
  _check(): this {
    if (this._disposed) {
      throw new Error(`this tensor (${this.describe()}) was disposed and cannot be used; keep() it or return it from its scope`);
    }
    return this;
  }

  describe(): string {
    return `${this.dtype}${shapeString(this.shape)} on ${this.device}`;
  }

  /** Frees this tensor's hold on its memory. Idempotent. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    liveTensors--;
    if (this._scope) {
      this._scope.tensors.delete(this);
      this._scope = undefined;
    }
    this._storage.release();
    if (this._gradFn) {
      this._gradFn.release();
      this._gradFn = null;
    }
    this.grad?.dispose();
    this.grad = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- reading data (these synchronize) ------------------------------------------------------

  /** The raw elements as a typed array (16-bit floats as their Uint16 bit patterns). */
  toTypedArray(): Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array {
    this._check();
    const n = this.numel;
    const byteOffset = this._offset * bytesPerElement(this.dtype);
    let out: Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
    switch (this.dtype) {
      case 'f32': out = new Float32Array(n); break;
      case 'f64': out = new Float64Array(n); break;
      case 'f16': case 'bf16': out = new Uint16Array(n); break;
      case 'i32': out = new Int32Array(n); break;
      case 'i64': out = new BigInt64Array(n); break;
      case 'bool': out = new Uint8Array(n); break;
    }
    if (n > 0) nb.read(this._storage.handle, byteOffset, out);
    return out;
  }

  /** All elements as a flat array of numbers, in row-major order. */
  toArray(): number[] {
    const raw = this.toTypedArray();
    if (this.dtype === 'bf16') return Array.from(raw as Uint16Array, bf16ToNumber);
    if (this.dtype === 'f16') return Array.from(raw as Uint16Array, f16ToNumber);
    if (this.dtype === 'i64') return Array.from(raw as BigInt64Array, Number);
    return Array.from(raw as ArrayLike<number>);
  }

  /** The elements as nested arrays shaped like the tensor (a number for a scalar). */
  toNested(): unknown {
    const flat = this.toArray();
    if (this.rank === 0) return flat[0];
    let pos = 0;
    const build = (dim: number): unknown[] => {
      const size = this.shape[dim] as number;
      const out: unknown[] = new Array(size);
      for (let i = 0; i < size; i++) out[i] = dim === this.rank - 1 ? flat[pos++] : build(dim + 1);
      return out;
    };
    return build(0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new Error(`item() needs a tensor with one element, got ${this.describe()}`);
    return this.toArray()[0] as number;
  }

  toString(): string {
    if (this._disposed) return `Tensor(disposed ${this.dtype}${shapeString(this.shape)})`;
    const n = this.numel;
    const values = n <= 20 ? this.toArray() : this.toArray().slice(0, 20);
    const text = values.map((v) => (Number.isInteger(v) ? String(v) : v.toPrecision(5))).join(', ');
    return `Tensor(${this.describe()}${this.requiresGrad ? ', requiresGrad' : ''}: [${text}${n > 20 ? ', …' : ''}])`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /**
   * @internal Points this tensor at another tensor's memory (Module.to() moves parameters this way,
   * so optimizers and other holders keep the same object). The donor keeps its own reference.
   */
  _replaceData(src: Tensor): void {
    this._check();
    src._check();
    src._storage.retain();
    this._storage.release();
    this._storage = src._storage;
    const self = this as { shape: readonly number[]; dtype: DType; device: Device; _offset: number };
    self.shape = src.shape;
    self.dtype = src.dtype;
    self.device = src.device;
    self._offset = src._offset;
    this.grad?.dispose();
    this.grad = null;
  }

  /** Called after a gradient is accumulated into this leaf (grad or mainGrad) during backward. */
  registerPostAccumulateGradHook(hook: GradHook): () => void {
    (this._gradHooks ??= []).push(hook);
    return () => {
      const hooks = this._gradHooks;
      if (hooks) hooks.splice(hooks.indexOf(hook), 1);
    };
  }
}

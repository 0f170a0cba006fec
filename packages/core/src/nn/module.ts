// Module: a tree of parameters, buffers and child modules. Parameters and children are found on
// the module's own properties (in definition order), like PyTorch's attribute registration;
// buffers are registered explicitly. State dicts are flat records keyed by dotted paths.
import { noGrad } from '../context.ts';
import { type DeviceLike, parseDevice } from '../device.ts';
import { checkDtype, type DType, isFloatingDtype } from '../dtype.ts';
import * as k from '../kernels.ts';
import { untrack } from '../scope.ts';
import { sameShape, shapeString } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { Parameter } from './parameter.ts';

export type StateDict = Record<string, Tensor>;

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export class Module {
  training = true;
  #buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();

  /** Registers a tensor that is state but not a parameter (e.g. running statistics, masks). */
  registerBuffer<T extends Tensor>(name: string, tensor: T, persistent = true): T {
    untrack(tensor);
    this.#buffers.set(name, { tensor, persistent });
    Object.defineProperty(this, name, { value: tensor, writable: true, enumerable: false, configurable: true });
    return tensor;
  }

  /** Direct children: Module-valued properties and arrays of modules (named prop.i). */
  *namedChildren(): Generator<[string, Module]> {
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) yield [key, value];
      else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Module)) {
        for (let i = 0; i < value.length; i++) yield [`${key}.${i}`, value[i] as Module];
      }
    }
  }

  *children(): Generator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.namedChildren()) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /** This module's own parameters (not its children's). */
  *ownParameters(): Generator<[string, Parameter]> {
    for (const [key, value] of Object.entries(this)) if (value instanceof Parameter) yield [key, value];
  }

  *namedParameters(prefix = ''): Generator<[string, Parameter]> {
    const seen = new Set<Parameter>();
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, p] of m.ownParameters()) {
        if (seen.has(p)) continue; // a shared (tied) parameter is listed once
        seen.add(p);
        yield [path ? `${path}.${name}` : name, p];
      }
    }
  }

  *parameters(): Generator<Parameter> {
    for (const [, p] of this.namedParameters()) yield p;
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, b] of m.#buffers) yield [path ? `${path}.${name}` : name, b.tensor];
    }
  }

  numParameters(onlyTrainable = false): number {
    let n = 0;
    for (const p of this.parameters()) if (!onlyTrainable || p.requiresGrad) n += p.numel;
    return n;
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters and persistent buffers by dotted name. The values are the live tensors: don't dispose them. */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, p] of this.namedParameters()) out[name] = p;
    for (const [path, m] of this.namedModules()) {
      for (const [name, b] of m.#buffers) if (b.persistent) out[path ? `${path}.${name}` : name] = b.tensor;
    }
    return out;
  }

  /**
   * Copies values into this module's parameters and buffers (converting dtype and device). With
   * strict (the default), missing or unexpected keys are an error; mis-shaped values always are.
   */
  loadStateDict(state: StateDict, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((key) => !(key in state));
    const unexpectedKeys = Object.keys(state).filter((key) => !(key in own));
    const problems: string[] = [];
    for (const [key, target] of Object.entries(own)) {
      const src = state[key];
      if (!src) continue;
      if (!(src instanceof Tensor)) problems.push(`'${key}' is not a tensor`);
      else if (src.disposed) problems.push(`'${key}' was disposed`);
      else if (!sameShape(src.shape, target.shape)) problems.push(`'${key}' has shape ${shapeString(src.shape)}, the module expects ${shapeString(target.shape)}`);
    }
    if (strict && missingKeys.length) problems.push(`missing keys: ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length) problems.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
    if (problems.length) {
      throw new Error(`loadStateDict: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}${strict ? '\n(pass { strict: false } to ignore missing and unexpected keys)' : ''}`);
    }
    noGrad(() => {
      for (const [key, target] of Object.entries(own)) {
        const src = state[key];
        if (!src) continue;
        const moved = src.device === target.device ? src : k.toDevice(src, target.device);
        k.copyInto(target, moved);
        if (moved !== src) moved.dispose();
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Moves (and/or casts floating) parameters and buffers in place; the tensor objects stay the same. */
  to(target: DType | DeviceLike | { dtype?: DType; device?: DeviceLike }): this {
    const spec = typeof target === 'string' ? (isDtypeName(target) ? { dtype: target } : { device: target }) : target;
    const dtype = spec.dtype ? checkDtype(spec.dtype) : undefined;
    const device = spec.device ? parseDevice(spec.device) : undefined;
    const convert = (t: Tensor) => {
      let cur = t;
      if (device && cur.device !== device) cur = k.toDevice(cur, device);
      if (dtype && isFloatingDtype(cur.dtype) && cur.dtype !== dtype) {
        const cast = k.cast(cur, dtype);
        if (cur !== t) cur.dispose();
        cur = cast;
      }
      if (cur !== t) {
        t._replaceData(cur);
        cur.dispose();
      }
    };
    for (const p of this.parameters()) convert(p);
    for (const [, b] of this.namedBuffers()) convert(b);
    return this;
  }

  /** Drops every parameter's .grad (mainGrad buffers belong to the optimizer and are kept). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Calls fn on every module of the tree, children first. */
  apply(fn: (m: Module) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /** Frees every parameter and buffer of the tree. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const [, b] of this.namedBuffers()) b.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function isDtypeName(s: string): s is DType {
  return ['f32', 'f64', 'f16', 'bf16', 'i32', 'i64', 'bool'].includes(s);
}

/** A list of modules whose parameters are named by position (layers.0.weight, ...). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];
  constructor(modules: Iterable<M> = []) {
    super();
    this.items = [...modules];
  }
  override *namedChildren(): Generator<[string, Module]> {
    for (let i = 0; i < this.items.length; i++) yield [String(i), this.items[i] as M];
  }
  get length(): number {
    return this.items.length;
  }
  at(i: number): M {
    const m = this.items.at(i);
    if (!m) throw new RangeError(`ModuleList: index ${i} is out of range (length ${this.items.length})`);
    return m;
  }
  push(m: M): void {
    this.items.push(m);
  }
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

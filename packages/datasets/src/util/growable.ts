// Append-only typed arrays that grow by doubling, for index arrays of millions of entries.
type NumericArray = Int32Array | Float64Array | Int8Array;
type Ctor<T extends NumericArray> = { new (length: number): T };

export class Growable<T extends NumericArray> {
  private data: T;
  private size = 0;
  private readonly ctor: Ctor<T>;

  constructor(ctor: Ctor<T>, capacity = 1024) {
    this.ctor = ctor;
    this.data = new ctor(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(value: number): void {
    if (this.size === this.data.length) this.reserve(this.size * 2);
    this.data[this.size++] = value;
  }

  pushAll(values: ArrayLike<number>, add = 0): void {
    this.reserve(this.size + values.length);
    for (let i = 0; i < values.length; i++) this.data[this.size++] = values[i]! + add;
  }

  /** A view of the filled part (invalidated by the next push). */
  view(): T {
    return this.data.subarray(0, this.size) as T;
  }

  private reserve(capacity: number): void {
    if (capacity <= this.data.length) return;
    const next = new this.ctor(Math.max(capacity, this.data.length * 2));
    next.set(this.data.subarray(0, this.size) as never);
    this.data = next;
  }
}

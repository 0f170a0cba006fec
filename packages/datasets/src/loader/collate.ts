// Stacks samples into a micro-batch of plain typed arrays with shapes; toTensors() (tensors.ts)
// turns the fields into tensors on a device.

export type FieldArray = Int32Array | Float32Array | Uint8Array | BigInt64Array | Int16Array;

export interface BatchField {
  data: FieldArray;
  shape: number[];
}

export type Batch = Record<string, BatchField>;

type Ctor = { new (n: number): FieldArray };

/** Field by field: typed arrays are stacked to [n, ...], numbers to [n] (int32, or float32 when fractional). */
export function collate(samples: object[], shapes: Record<string, number[]> = {}): Batch {
  if (samples.length === 0) throw new Error('collate: no samples');
  const out: Batch = {};
  const first = samples[0] as Record<string, unknown>;
  for (const [name, value] of Object.entries(first)) {
    if (value === undefined) continue;
    if (ArrayBuffer.isView(value)) {
      const v = value as FieldArray;
      const C = v.constructor as Ctor;
      const data = new C(v.length * samples.length);
      samples.forEach((s, i) => {
        const x = (s as Record<string, FieldArray>)[name]!;
        if (x.length !== v.length) throw new Error(`collate: field "${name}" has ${x.length} elements in sample ${i} but ${v.length} in sample 0`);
        (data as Int32Array).set(x as Int32Array, i * v.length);
      });
      out[name] = { data, shape: [samples.length, ...(shapes[name] ?? [v.length])] };
    } else if (typeof value === 'number') {
      const vals = samples.map((s) => (s as Record<string, number>)[name]!);
      out[name] = { data: vals.every(Number.isInteger) ? Int32Array.from(vals) : Float32Array.from(vals), shape: [samples.length] };
    }
  }
  return out;
}

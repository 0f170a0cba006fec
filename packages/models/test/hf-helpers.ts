// Test helpers for the Hugging Face loader: a module tree with given parameter names and shapes
// (standing in for the GPT model), and seeded values.
import { Module, Parameter, zeros } from '@tessera/core';

/** A Module whose namedParameters() are exactly `shapes` (numeric path segments become arrays). */
export function moduleWithParameters(shapes: Record<string, readonly number[]>, dtype: 'f32' | 'bf16' = 'f32'): Module {
  const root = new Module();
  for (const [name, shape] of Object.entries(shapes)) {
    const parts = name.split('.');
    let node: Module = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const key = parts[i] as string;
      const next = parts[i + 1] as string;
      const bag = node as unknown as Record<string, unknown>;
      if (/^\d+$/.test(next) && i + 2 < parts.length) {
        const list = (bag[key] ??= []) as Module[];
        const idx = Number(next);
        while (list.length <= idx) list.push(new Module());
        node = list[idx] as Module;
        i++;
      } else {
        node = (bag[key] ??= new Module()) as Module;
      }
    }
    const leaf = parts.at(-1) as string;
    const t = zeros(shape, { dtype });
    (node as unknown as Record<string, unknown>)[leaf] = new Parameter(t);
    t.dispose();
  }
  return root;
}

/** Deterministic pseudo-random floats (a small LCG), distinct enough to catch any misplaced element. */
export function seededFloats(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

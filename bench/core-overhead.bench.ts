// Per-call cost of a tiny op from JS on a device (default cpu): through the tensor API (output
// allocated and freed each time), inside a scope, and as a bare binding call.
//   node --conditions=@tessera/source bench/core-overhead.bench.ts [--device cuda:0] [--calls 200000]
import { parseArgs } from 'node:util';
import { empty, scope, synchronize, tensor } from '../packages/core/src/index.ts';
import { nb } from '../packages/core/src/native.ts';

const { values } = parseArgs({ options: { device: { type: 'string', default: 'cpu' }, calls: { type: 'string', default: '200000' } } });
const device = values.device as string;
const n = Number(values.calls);
const a = tensor([1], { device });
const out = empty([1], { device });
const sync = () => {
  if (device !== 'cpu') synchronize(device);
};
function perCallUs(fn: () => void): number {
  for (let i = 0; i < 1000; i++) fn();
  sync();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  sync();
  return ((performance.now() - t0) / n) * 1000;
}
const api = perCallUs(() => a.add(a).dispose());
const scoped = perCallUs(() => scope(() => void a.add(a)));
const raw = perCallUs(() => nb.binary(0, a.handle, 0, [1], a.handle, 0, [1], out.handle, 0, [1], 0));
console.log(`1-element add on ${device}: tensor API ${api.toFixed(2)} us, in a scope ${scoped.toFixed(2)} us, binding call ${raw.toFixed(2)} us`);

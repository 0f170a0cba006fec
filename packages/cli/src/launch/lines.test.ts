import { expect, it } from 'vitest';
import { LinePrefixer } from './lines.ts';

it('prefixes whole lines however the stream is cut', () => {
  let out = '';
  const p = new LinePrefixer('[rank 3] ', (t) => (out += t));
  for (const chunk of ['a', 'b\nc', '\n\nd\r\n', 'tail']) p.push(chunk);
  expect(out).toBe('[rank 3] ab\n[rank 3] c\n[rank 3] \n[rank 3] d\r\n');
  p.flush();
  expect(out.endsWith('[rank 3] tail\n')).toBe(true);
});

// Making a Parameter from a freshly initialized tensor, which it takes over.
import { Parameter, type ParameterMeta, type Tensor } from '@tessera/core';

export function parameter(data: Tensor, meta: ParameterMeta = {}): Parameter {
  const p = new Parameter(data, true, meta);
  data.dispose();
  return p;
}

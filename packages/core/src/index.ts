// @tessera/core: tensors, autograd, modules, scopes and seeded RNG on CPU and CUDA.
import './tensor-methods.ts';

export { Tensor, type GradHook } from './tensor.ts';
export { type DType, DTYPES, bytesPerElement, isFloatingDtype, isIntegerDtype, promoteTypes } from './dtype.ts';
export {
  type Device, type DeviceLike, cudaAvailable, cudaDeviceCount, deviceIndex, getDefaultDevice, parseDevice, setDefaultDevice,
} from './device.ts';
export { type Shape, broadcastShapes, numel, shapeString } from './shape.ts';
export { scope, keep, dispose } from './scope.ts';
export { noGrad, enableGrad, isGradEnabled } from './context.ts';
export { defineFunction, type FunctionContext, type FunctionSpec } from './autograd/function.ts';
export { type BackwardOptions, runBackwardMany, runPostAccumulateHooks } from './autograd/engine.ts';
export { checkpoint, registerRngStateProvider, type RngStateProvider } from './autograd/checkpoint.ts';
export { Generator, type GeneratorState, defaultGenerator, manualSeed, initialSeed } from './random.ts';
export * from './memory.ts';
export { Event, Stream } from './streams.ts';
export * from './ops/creation.ts';
export * from './ops/pointwise.ts';
export * from './ops/reduction.ts';
export * from './ops/shape.ts';
export * from './ops/indexing.ts';
export * from './ops/matmul.ts';
export * from './ops/nn.ts';
export * from './ops/inplace.ts';
export * as F from './functional.ts';
export * as init from './nn/init.ts';
export { Module, ModuleList, type StateDict, type LoadResult } from './nn/module.ts';
export { Parameter, type ParameterMeta } from './nn/parameter.ts';
export { Linear, Embedding, LayerNorm, RMSNorm, Dropout, Sequential, type FactoryOptions, type NormOptions, type Forward } from './nn/layers.ts';
export { nativeVariant, nativePath } from './native.ts';
export * from './native-io.ts';
export * as comm from './comm.ts';
export * from './optim-kernels.ts';

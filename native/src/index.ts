export * from './binding.ts';
export { binaryPath, type LoadAttempt, type LoadedNative, loadNative, NativeBindingNotFoundError, type Variant, VARIANTS } from './loader.ts';
export { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from './half.ts';

export * from './binding.ts';
export { binaryPath, type LoadAttempt, type LoadedNative, loadNative, NativeBindingNotFoundError, type Variant, VARIANTS } from './loader.ts';

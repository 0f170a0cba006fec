// The one place core reaches the native binding.
import { loadNative } from '@tessera/native';

const loaded = loadNative();

export const nb = loaded.binding;
export const nativeVariant = loaded.variant;
export const nativePath = loaded.path;

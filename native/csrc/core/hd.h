// Marks functions usable from both host and device code. Shared math is written once, here and in
// core/*.h, and instantiated by the CPU loops and the CUDA kernels alike.
#pragma once
#if defined(__CUDACC__)
#define TS_HD __host__ __device__ __forceinline__
#define TS_DEVICE_CODE 1
#else
#define TS_HD inline
#endif

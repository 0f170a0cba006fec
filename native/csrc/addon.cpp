// The module entry point: every binding function is registered here, grouped by file.
#include <napi.h>

#include "binding/args.h"

namespace {

Napi::Object init(Napi::Env env, Napi::Object exports) {
  ts::binding::registerStorage(env, exports);
  ts::binding::registerKernels(env, exports);
  ts::binding::registerFiles(env, exports);
  ts::binding::registerOptim(env, exports);
  ts::binding::registerNccl(env, exports);
  ts::binding::registerCpuComm(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tessera_native, init)

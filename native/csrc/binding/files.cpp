// Binding: memory-mapped files. Node has no mmap, and Megatron-style datasets (.bin/.idx files
// of many GB) must be read without copying them into the JS heap. mmapFile maps a whole file
// copy-on-write and hands it to JS as an external ArrayBuffer whose finalizer unmaps it, so the
// mapping lives exactly as long as something in JS references it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "binding/args.h"

namespace ts::binding {
namespace {

struct Mapping {
  void* addr;
  size_t length;
};

std::string errnoText(int err) { return std::strerror(err); }

// mmapFile(path): ArrayBuffer over the whole file. The pages are mapped MAP_PRIVATE with write
// permission so that a stray write from JS changes only this process's copy (never the file) and
// cannot fault; reads are zero-copy.
Napi::Value mmapFile(const Napi::CallbackInfo& info) {
  Args a(info, "mmapFile", 1);
  TS_CHECK(info[0].IsString(), "mmapFile: argument 0 must be a file path string");
  std::string path = info[0].As<Napi::String>().Utf8Value();

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    throw Error(strcat("mmapFile: cannot open '", path, "': ", errnoText(err),
                       err == ENOENT ? " (check the path; a dataset prefix needs both .bin and .idx)" : ""));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw Error(strcat("mmapFile: cannot stat '", path, "': ", errnoText(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(strcat("mmapFile: '", path, "' is not a regular file"));
  }
  size_t length = size_t(st.st_size);
  if (length == 0) {
    ::close(fd);
    return Napi::ArrayBuffer::New(info.Env(), 0);  // mmap rejects empty ranges
  }
  void* addr = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (addr == MAP_FAILED) {
    throw Error(strcat("mmapFile: cannot map '", path, "' (", length, " bytes): ", errnoText(err)));
  }
  auto* m = new Mapping{addr, length};
  return Napi::ArrayBuffer::New(info.Env(), addr, length, [](Napi::Env, void*, Mapping* mapping) {
    ::munmap(mapping->addr, mapping->length);
    delete mapping;
  }, m);
}

// fileAdvise(buffer, byteOffset, byteLength, pattern): madvise on a range of an mmapFile buffer.
// pattern 0: normal, 1: random (random access to samples), 2: sequential, 3: willneed (prefetch).
Napi::Value fileAdvise(const Napi::CallbackInfo& info) {
  Args a(info, "fileAdvise", 4);
  TS_CHECK(info[0].IsArrayBuffer(), "fileAdvise: argument 0 must be an ArrayBuffer from mmapFile");
  Napi::ArrayBuffer buf = info[0].As<Napi::ArrayBuffer>();
  double off = a.num(1), len = a.num(2);
  int pattern = a.i32(3);
  TS_CHECK(off >= 0 && len >= 0 && size_t(off + len) <= buf.ByteLength(), "fileAdvise: the range [", off, ", ",
           off + len, ") is outside the buffer of ", buf.ByteLength(), " bytes");
  static const int advice[] = {MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED};
  TS_CHECK(pattern >= 0 && pattern < 4, "fileAdvise: pattern must be 0 (normal), 1 (random), 2 (sequential) or 3 (willneed), got ", pattern);
  if (len == 0) return info.Env().Undefined();
  // madvise needs a page-aligned start.
  uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  uintptr_t start = uintptr_t(buf.Data()) + uintptr_t(off);
  uintptr_t aligned = start & ~(page - 1);
  size_t span = size_t(len) + (start - aligned);
  ::madvise(reinterpret_cast<void*>(aligned), span, advice[pattern]);  // advisory: failures are harmless
  return info.Env().Undefined();
}

}  // namespace

void registerFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("mmapFile", Napi::Function::New(env, mmapFile, "mmapFile"));
  exports.Set("fileAdvise", Napi::Function::New(env, fileAdvise, "fileAdvise"));
}

}  // namespace ts::binding

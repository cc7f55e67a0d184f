// libautokernel_ops.so: the PyTorch operator through which exported kernels run inside a model.
//
//   torch.ops.load_library(".../libautokernel_ops.so")
//   torch.ops.autokernel.launch(library, inputs, outputs, scalars)
//
// `library` is a kernel built by autokernel (a shared library defining ak_kernel, see
// kernels/include/autokernel/kernel_abi.h); `outputs` are preallocated and written in place. On CUDA
// tensors the kernel runs on PyTorch's current stream, so it orders with the model's other work.
// Depends on libtorch only: it ships inside the exported package, without the rest of autokernel.
#include <dlfcn.h>
#include <torch/library.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/abi_tensor.hpp"

#ifdef AK_HAVE_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

ak_kernel_fn kernel_in(const std::string& library) {
  static std::mutex mutex;
  static std::unordered_map<std::string, ak_kernel_fn> loaded;  // never dlclosed: work may be in flight
  std::lock_guard lock(mutex);
  if (auto it = loaded.find(library); it != loaded.end()) return it->second;
  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  TORCH_CHECK(handle, "autokernel: cannot load ", library, ": ", ::dlerror());
  auto fn = reinterpret_cast<ak_kernel_fn>(::dlsym(handle, "ak_kernel"));
  TORCH_CHECK(fn, "autokernel: ", library, " defines no ak_kernel");
  return loaded[library] = fn;
}

void launch(const std::string& library, const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& outputs,
            const std::vector<double>& scalars) {
  TORCH_CHECK(!outputs.empty(), "autokernel: a kernel needs at least one output");
  const auto device = outputs.front().device();
  std::vector<ak_tensor> in, out;
  for (const auto& t : inputs) {
    TORCH_CHECK(t.device() == device, "autokernel: every tensor must be on ", device, ", one is on ", t.device());
    in.push_back(ak::backends::to_abi(t));
  }
  for (const auto& t : outputs) {
    TORCH_CHECK(t.device() == device, "autokernel: every tensor must be on ", device, ", one is on ", t.device());
    out.push_back(ak::backends::to_abi(t));
  }
  void* stream = nullptr;
#ifdef AK_HAVE_CUDA
  if (device.is_cuda()) stream = c10::cuda::getCurrentCUDAStream(device.index()).stream();
#endif
  TORCH_CHECK(device.is_cuda() || device.is_cpu(), "autokernel: tensors on ", device, " are not supported");
  const ak_call call{in.data(),      static_cast<int32_t>(in.size()),      out.data(), static_cast<int32_t>(out.size()),
                     scalars.data(), static_cast<int32_t>(scalars.size()), stream};
  const int rc = kernel_in(library)(&call);
  TORCH_CHECK(rc == 0, "autokernel: the kernel in ", library, " rejected the call (ak_kernel returned ", rc, ")");
}

}  // namespace

TORCH_LIBRARY(autokernel, m) {
  m.def("launch(str library, Tensor[] inputs, Tensor(a!)[] outputs, float[] scalars) -> ()", &launch);
}

// cuda: CUDA C++ built by nvcc for the device's own architecture (sm_90a on an H100), loaded in-process.
#include "backends/backend.hpp"
#include "backends/cuda_arch.hpp"
#include "backends/native.hpp"

#ifdef AK_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace ak::backends {
namespace {

void* current_stream() {
#ifdef AK_HAVE_CUDA
  return at::cuda::getCurrentCUDAStream().stream();
#else
  return nullptr;
#endif
}

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "cuda"; }
  Expected<at::Device> device() const override {
    if (!cuda_available()) {
      return fail("the cuda backend needs an NVIDIA GPU, and none is visible to this process",
                  "run on a machine with a GPU, or use --backend cpu (or triton, which runs interpreted on CPU)");
    }
    return at::Device(at::kCUDA, 0);
  }
  Expected<std::filesystem::path> build(const Candidate& c) override {
    auto arch = cuda_arch_for_build();
    if (!arch) return std::unexpected(arch.error());
    auto spec = nvcc_spec(*arch);
    if (!spec) return std::unexpected(spec.error());
    return native::compile(c, *spec);
  }

 private:
  Expected<std::unique_ptr<LoadedKernel>> do_load(const Candidate& c) override {
    auto so = build(c);
    if (!so) return std::unexpected(so.error());
    return native::load_library(*so, &current_stream);
  }
};

}  // namespace

Expected<native::CompileSpec> nvcc_spec(const std::string& arch) {
  const auto nvcc = native::find_tool("AUTOKERNEL_NVCC", "nvcc", "/usr/local/cuda/bin/nvcc");
  if (nvcc.empty()) return fail("nvcc not found", "install the CUDA toolkit or set AUTOKERNEL_NVCC");
  // sm_90a: the arch-specific target that admits wgmma/setmaxnreg; the -gencode form is what nvcc 13.0 accepts.
  return native::CompileSpec{{nvcc, "-std=c++17", "-O3", "-lineinfo", "-shared", "-Xcompiler", "-fPIC",
                              fmt::format("-gencode=arch=compute_{0},code=sm_{0}", arch)},
                             "cuda-sm_" + arch};
}

Expected<std::string> cuda_arch_for_build() {
  if (const char* e = std::getenv("AUTOKERNEL_CUDA_ARCH"); e && *e) return std::string(e);
#ifdef AK_HAVE_CUDA
  if (cuda_available()) {
    const auto* p = at::cuda::getCurrentDeviceProperties();
    // Hopper (9.0) and Blackwell datacenter (10.0) have arch-specific "a" targets with their own instructions.
    const bool has_a = p->major == 9 || p->major == 10;
    return fmt::format("{}{}{}", p->major, p->minor, has_a ? "a" : "");
  }
#endif
  return fail("no GPU to build for", "set AUTOKERNEL_CUDA_ARCH (e.g. 90a) to compile without one");
}

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }
}  // namespace ak::backends

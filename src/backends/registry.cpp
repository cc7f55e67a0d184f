// Backends by name. The triton backend is compiled in only when Python could be embedded.
#include "backends/backend.hpp"

#ifdef AK_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace ak::backends {

std::unique_ptr<Backend> make_cpu_backend();
std::unique_ptr<Backend> make_cuda_backend();
#ifdef AK_HAVE_PYTHON
std::unique_ptr<Backend> make_triton_backend();
#endif

std::vector<std::string> backend_names() {
  return {"cuda",
#ifdef AK_HAVE_PYTHON
          "triton",
#endif
          "cpu"};
}

Expected<std::unique_ptr<Backend>> make_backend(std::string_view name) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda") return make_cuda_backend();
#ifdef AK_HAVE_PYTHON
  if (name == "triton") return make_triton_backend();
#else
  if (name == "triton")
    return fail("this build of autokernel has no triton backend (Python was not found at build time)");
#endif
  std::string known;
  for (const auto& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
  return fail(fmt::format("unknown backend '{}' (known: {})", name, known));
}

bool cuda_available() {
#ifdef AK_HAVE_CUDA
  return at::cuda::is_available();
#else
  return false;
#endif
}

}  // namespace ak::backends

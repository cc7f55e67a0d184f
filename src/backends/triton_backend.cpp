// triton: a Python file defining kernel_fn(inputs, outputs, scalars), run by an interpreter embedded
// in the worker process. Tensors cross as torch.Tensor views of the harness's own tensors (no copies).
// Without a GPU, Triton runs its interpreter on CPU tensors (TRITON_INTERPRET=1).
#include <torch/python.h>  // pybind11 casters for at::Tensor
#include <pybind11/embed.h>

#include <cstdlib>

#include "backends/backend.hpp"
#include "util/resources.hpp"

namespace py = pybind11;

namespace ak::backends {
namespace {

/// The Python exception's text with the last lines of its traceback.
std::string python_error(const py::error_already_set& e) {
  std::string msg = e.what();
  constexpr std::size_t k_max = 4000;
  if (msg.size() > k_max) msg = "..." + msg.substr(msg.size() - k_max);
  return msg;
}

void ensure_interpreter(bool interpret) {
  static bool started = false;
  if (started) return;
  if (interpret) ::setenv("TRITON_INTERPRET", "1", 0);
  py::initialize_interpreter();
  started = true;
  // The interpreter embedded here does not know the virtual environment torch was installed in.
  auto sys = py::module_::import("sys");
  sys.attr("path").attr("insert")(0, util::python_site_packages().string());
  sys.attr("path").attr("insert")(0, util::python_support_dir().string());
  sys.attr("dont_write_bytecode") = true;
  // Fixes for Triton's CPU interpreter; a no-op on a GPU.
  py::module_::import("autokernel_support.triton_interpreter").attr("apply")();
}

py::object knob_value(const std::string& v) {
  return std::visit([](const auto& x) -> py::object { return py::cast(x); }, knob_scalar(v));
}

class TritonKernel final : public LoadedKernel {
 public:
  explicit TritonKernel(py::object fn) : m_fn(std::move(fn)) {}
  ~TritonKernel() override {
    py::gil_scoped_acquire gil;
    m_fn = py::object();
  }
  Expected<void> call(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& outputs,
                      const std::vector<double>& scalars) override {
    try {
      py::list in, out, sc;
      for (const auto& t : inputs) in.append(py::cast(t));
      for (const auto& t : outputs) out.append(py::cast(t));
      for (double s : scalars) sc.append(s);
      m_fn(in, out, sc);
    } catch (py::error_already_set& e) {
      return fail(fmt::format("kernel_fn raised: {}", python_error(e)));
    }
    return {};
  }

 private:
  py::object m_fn;
};

class TritonBackend final : public Backend {
 public:
  std::string_view name() const override { return "triton"; }
  Expected<at::Device> device() const override {
    return cuda_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
  }

 private:
  Expected<std::unique_ptr<LoadedKernel>> do_load(const Candidate& c) override {
    ensure_interpreter(!cuda_available());
    try {
      py::module_::import("torch");
      auto util = py::module_::import("importlib.util");
      auto spec = util.attr("spec_from_file_location")("ak_candidate", c.path.string());
      auto module = util.attr("module_from_spec")(spec);
      // Knobs become module globals before the body runs, so the file reads them as constants.
      for (const auto& [name, value] : c.knob_values) module.attr(name.c_str()) = knob_value(value);
      spec.attr("loader").attr("exec_module")(module);
      if (!py::hasattr(module, "kernel_fn")) {
        return fail("the candidate does not define kernel_fn(inputs, outputs, scalars)");
      }
      return std::make_unique<TritonKernel>(module.attr("kernel_fn"));
    } catch (py::error_already_set& e) {
      return fail(fmt::format("importing the candidate failed: {}", python_error(e)));
    }
  }
};

}  // namespace
std::unique_ptr<Backend> make_triton_backend() { return std::make_unique<TritonBackend>(); }
}  // namespace ak::backends

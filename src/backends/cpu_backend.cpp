// cpu: C++ built by the host compiler. Lets the whole loop run, and be tested, with no GPU.
#include "backends/backend.hpp"
#include "backends/native.hpp"

namespace ak::backends {
namespace {

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  Expected<at::Device> device() const override { return at::Device(at::kCPU); }
  Expected<std::filesystem::path> build(const Candidate& c) override {
    const auto cxx = native::find_tool("CXX", "g++", "/usr/bin/g++");
    if (cxx.empty()) return fail("no host C++ compiler found", "install g++ or set CXX");
    native::CompileSpec spec{{cxx, "-std=c++20", "-O3", "-march=native", "-fPIC", "-shared"}, "cpu"};
    return native::compile(c, spec);
  }

 private:
  Expected<std::unique_ptr<LoadedKernel>> do_load(const Candidate& c) override {
    auto so = build(c);
    if (!so) return std::unexpected(so.error());
    return native::load_library(*so, nullptr);
  }
};

}  // namespace
std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }
}  // namespace ak::backends

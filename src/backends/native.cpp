#include "backends/native.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>

#include "autokernel/kernel_abi.h"
#include "backends/abi_tensor.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/resources.hpp"

namespace ak::backends::native {
namespace {

constexpr auto k_compile_limit = std::chrono::minutes(5);

class NativeKernel final : public LoadedKernel {
 public:
  NativeKernel(void* handle, ak_kernel_fn fn, void* (*stream)()) : m_handle(handle), m_fn(fn), m_stream(stream) {}
  ~NativeKernel() override = default;  // never dlclose: kernels may still be in flight on the device

  Expected<void> call(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& outputs,
                      const std::vector<double>& scalars) override {
    std::vector<ak_tensor> in, out;
    for (const auto& t : inputs) in.push_back(to_abi(t));
    for (const auto& t : outputs) out.push_back(to_abi(t));
    ak_call call{in.data(),
                 static_cast<int32_t>(in.size()),
                 out.data(),
                 static_cast<int32_t>(out.size()),
                 scalars.data(),
                 static_cast<int32_t>(scalars.size()),
                 m_stream ? m_stream() : nullptr};
    const int rc = m_fn(&call);
    if (rc != 0) return fail(fmt::format("ak_kernel returned {} (the candidate rejected the call)", rc));
    return {};
  }

 private:
  void* m_handle;
  ak_kernel_fn m_fn;
  void* (*m_stream)();
};

bool is_header(const std::filesystem::path& p) {
  static const std::set<std::string> exts = {".h", ".hpp", ".hh", ".cuh", ".inc", ".inl"};
  return exts.count(p.extension().string()) > 0;
}

}  // namespace

std::string headers_key(const std::filesystem::path& dir, bool recursive) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  auto add = [&](const std::filesystem::directory_entry& e) {
    std::error_code fec;
    if (e.is_regular_file(fec) && is_header(e.path())) files.push_back(e.path());
  };
  if (recursive) {
    for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) add(*it);
  } else {
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) add(*it);
  }
  std::sort(files.begin(), files.end());  // the directory's order is the filesystem's
  std::string key;
  for (const auto& f : files) {
    key += f.lexically_relative(dir).string() + '\x1f';
    key += util::read_file(f).value_or("(unreadable)") + '\x1f';
  }
  return key;
}

std::string find_tool(const char* env_var, const std::string& name, const std::string& fallback) {
  if (const char* e = std::getenv(env_var); e && *e) return e;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    std::size_t start = 0;
    while (start <= p.size()) {
      auto end = p.find(':', start);
      auto dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
      std::error_code ec;
      if (!dir.empty() && std::filesystem::exists(std::filesystem::path(dir) / name, ec)) {
        return (std::filesystem::path(dir) / name).string();
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  std::error_code ec;
  return !fallback.empty() && std::filesystem::exists(fallback, ec) ? fallback : std::string();
}

Expected<std::filesystem::path> compile(const Candidate& c, const CompileSpec& spec) {
  const auto include_dir = util::kernel_include_dir(), beside = c.path.parent_path();
  std::vector<std::string> cmd = spec.command;
  cmd.push_back("-I" + include_dir.string());
  // The build compiles a copy in the cache; headers beside the original still resolve.
  cmd.push_back("-I" + beside.string());
  for (const auto& [name, value] : c.knob_values) cmd.push_back(fmt::format("-D{}={}", name, value));
  // The key: the source, the command, and every header it could include from outside itself (the ABI
  // and helper headers, those beside it), so that editing one, or upgrading autokernel, rebuilds.
  std::string key = c.source;
  for (const auto& a : cmd) key += '\x1f' + a;
  key += '\x1e' + headers_key(include_dir, /*recursive=*/true);
  if (!beside.empty()) key += '\x1e' + headers_key(beside, /*recursive=*/false);
  const auto dir = util::cache_dir() / "build";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto so = dir / fmt::format("{}-{}.so", spec.tag, util::content_hash(key));
  if (std::filesystem::exists(so, ec)) return so;

  // Compile a copy of the source, named by its hash, so the cache never depends on the original path.
  const auto src = dir / fmt::format("{}-{}{}", spec.tag, util::content_hash(key), c.path.extension().string());
  if (auto w = util::write_file_atomic(src, c.source); !w) return std::unexpected(w.error());
  auto tmp = so;
  tmp += ".tmp" + util::unique_suffix();
  cmd.push_back(src.string());
  cmd.push_back("-o");
  cmd.push_back(tmp.string());
  auto r = util::run_command(cmd, k_compile_limit);
  if (!r) return std::unexpected(r.error());
  if (r->timed_out)
    return fail(fmt::format("compiler timed out after {} s", std::chrono::seconds(k_compile_limit).count()));
  if (r->exit_code != 0) {
    // The compiler's message names the cached copy; point it back at the user's file.
    std::string msg = r->output;
    for (std::size_t pos; (pos = msg.find(src.string())) != std::string::npos;) {
      msg.replace(pos, src.string().size(), c.path.string());
    }
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return fail(fmt::format("compilation failed ({}):\n{}", cmd.front(), msg));
  }
  std::filesystem::rename(tmp, so, ec);
  if (ec) return fail(fmt::format("cannot move the build into {}", so.string()));
  return so;
}

Expected<std::unique_ptr<LoadedKernel>> load_library(const std::filesystem::path& so, void* (*stream)()) {
  void* handle = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) return fail(fmt::format("cannot load {}: {}", so.string(), ::dlerror()));
  auto fn = reinterpret_cast<ak_kernel_fn>(::dlsym(handle, "ak_kernel"));
  if (!fn) {
    return fail("the candidate does not define `extern \"C\" int ak_kernel(const ak_call*)`",
                "see kernels/include/autokernel/kernel_abi.h");
  }
  return std::make_unique<NativeKernel>(handle, fn, stream);
}

}  // namespace ak::backends::native

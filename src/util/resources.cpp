#include "util/resources.hpp"

#include <cstdlib>
#include <system_error>

// The build-time paths, compiled into this file alone (CMakeLists.txt), so that a second build of the same
// sources elsewhere (pip's) recompiles one file, not every one.
namespace ak::util {
namespace {

namespace fs = std::filesystem;

/// The install root when the running binary is <root>/bin/autokernel of an installed layout, else empty.
const fs::path& installed_root() {
  static const fs::path root = [] {
    std::error_code ec;
    const auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return fs::path();
    // bin/ beside lib/libautokernel_ops.so: a build tree (build/autokernel, whose parent is the source tree,
    // which has kernels/ too) never looks like this.
    const auto r = exe.parent_path().parent_path();
    const bool installed = exe.parent_path().filename() == "bin" &&
                           fs::exists(r / "lib" / "libautokernel_ops.so", ec) &&
                           fs::exists(r / "kernels" / "include" / "autokernel" / "kernel_abi.h", ec);
    return installed ? r : fs::path();
  }();
  return root;
}

/// $var when set and not empty, else nullptr.
const char* env(const char* var) {
  const char* e = std::getenv(var);
  return e && *e ? e : nullptr;
}

fs::path under_root(const fs::path& installed, const char* built) {
  const auto& root = installed_root();
  return root.empty() ? fs::path(built) : root / installed;
}

}  // namespace

fs::path kernels_dir() { return under_root("kernels", AK_SOURCE_ROOT "/kernels"); }
fs::path kernel_include_dir() {
  if (const char* e = env("AUTOKERNEL_INCLUDE")) return e;
  return under_root("kernels/include", AK_SOURCE_ROOT "/kernels/include");
}
fs::path python_support_dir() { return under_root("python", AK_SOURCE_ROOT "/python"); }
fs::path program_md() { return under_root("program.md", AK_SOURCE_ROOT "/program.md"); }
fs::path ops_library() {
  if (const char* e = env("AUTOKERNEL_OPS_LIBRARY")) return e;
  return under_root("lib/libautokernel_ops.so", AK_OPS_LIBRARY);
}
fs::path python_site_packages() { return AK_PYTHON_SITE_PACKAGES; }
fs::path built_python() { return AK_PYTHON_EXECUTABLE; }

}  // namespace ak::util

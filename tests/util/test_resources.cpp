// autokernel's own files, found from a build in place (the installed layout is checked end to end by
// scripts/pip_install_check.sh): the source tree's, and the operator library this build made.
#include "util/resources.hpp"

#include <gtest/gtest.h>

namespace ak {
namespace {

namespace fs = std::filesystem;

TEST(Resources, ABuildInPlaceFindsTheSourceTreesFiles) {
  // The test binary sits in build/, whose parent is the source tree: not an installed root (no bin/, no lib/).
  EXPECT_EQ(fs::weakly_canonical(util::kernels_dir()), fs::weakly_canonical(fs::path(AK_SOURCE_DIR) / "kernels"));
  EXPECT_TRUE(fs::exists(util::kernel_include_dir() / "autokernel" / "kernel_abi.h"));
  EXPECT_TRUE(fs::exists(util::kernels_dir() / "rmsnorm" / "cpu.cpp"));
  EXPECT_TRUE(fs::exists(util::python_support_dir() / "autokernel_support" / "verify_model.py"));
  EXPECT_TRUE(fs::exists(util::python_support_dir() / "autokernel_kernels" / "__init__.py"));
  EXPECT_TRUE(fs::exists(util::program_md()));
  EXPECT_TRUE(fs::exists(util::ops_library())) << util::ops_library();
  EXPECT_TRUE(fs::exists(util::built_python())) << util::built_python();
}

}  // namespace
}  // namespace ak

// A CPU kernel that starts a process which leaves the worker's session (setsid) does not leave it
// running: the CPU worker runs in a PID namespace of its own where the system gives one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "test_processes.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

namespace ak {
namespace {

TEST(WorkerContainment, ASetsidGrandchildOfACpuKernelDiesWithItsWorker) {
  util::ProcessOptions o;
  o.pid_namespace = true;
  const auto probe = util::run_process({"/bin/true"}, o, [](const std::string&) {});
  if (!probe || !probe->pid_namespace) {
    GTEST_SKIP() << "this machine refuses a PID namespace: a CPU worker is contained by its process group only";
  }
  // The rmsnorm CPU starter, wrapped: its first call starts `setsid sleep <marker>` in the background.
  const auto marker = fmt::format("300.{}77", ::getpid());
  const auto starter = util::read_file(test::starter("rmsnorm", "cpu.cpp"));
  ASSERT_TRUE(starter) << starter.error().message;
  const std::string head = "#include <cstdlib>\n#define ak_kernel ak_kernel_starter\n";
  const std::string tail =
      "\n#undef ak_kernel\nextern \"C\" int ak_kernel(const ak_call* c) {\n"
      "  static bool started = false;\n"
      "  if (!started) { started = true; (void)std::system(\"setsid sleep " +
      marker +
      " >/dev/null 2>&1 &\"); }\n"
      "  return ak_kernel_starter(c);\n}\n";
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("ak_setsid_kernel_{}", ::getpid());
  std::filesystem::create_directories(dir);
  const auto file = dir / "rmsnorm_setsid.cpp";
  ASSERT_TRUE(util::write_file_atomic(file, head + *starter + tail));
  const auto rep = test::bench(file, /*timing=*/false);
  EXPECT_TRUE(rep.passed()) << rep.message;
  EXPECT_TRUE(test::all_gone(marker)) << "the kernel's setsid grandchild outlived its worker";
  (void)util::remove_tree(dir);
}

}  // namespace
}  // namespace ak

// util/process: a child and everything it starts die with it, with a timeout, and with autokernel
// itself, however autokernel dies (kill -9 included). Each case runs both ways the system may allow:
// in a PID namespace (skipped, with the reason, where the machine refuses one) and in the process group.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "test_processes.hpp"
#include "util/process.hpp"

namespace ak {
namespace {

using namespace std::chrono_literals;
using test::all_gone;
using test::live_with;

/// A sleep whose command line no other process has: `sleep 300.<pid><n>` (a process is found by it).
std::string marker(int n) { return fmt::format("300.{}{}", ::getpid(), n); }

bool wait_for(const std::string& needle, int count, std::chrono::milliseconds limit = 5s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (live_with(needle) < count) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

/// Does this machine give a child a PID namespace? (Containers often refuse one.)
bool pid_namespaces_here() {
  util::ProcessOptions o;
  o.pid_namespace = true;
  auto r = util::run_process({"/bin/true"}, o, [](const std::string&) {});
  return r && r->pid_namespace;
}

util::ProcessOptions options(bool pid_namespace) {
  util::ProcessOptions o;
  o.pid_namespace = pid_namespace;
  return o;
}

class Process : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam() && !pid_namespaces_here()) {
      GTEST_SKIP() << "this machine refuses a PID namespace (clone CLONE_NEWPID, also with CLONE_NEWUSER): "
                      "children are contained by their process group only";
    }
  }
  bool ns() const { return GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Containment, Process, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "PidNamespace" : "ProcessGroup"; });

TEST_P(Process, ReportsExitCodeAndSignalAsBefore) {
  auto code = util::run_process({"/bin/sh", "-c", "echo hi; exit 3"}, options(ns()), [](const std::string&) {});
  ASSERT_TRUE(code);
  EXPECT_EQ(code->exit_code, 3);
  EXPECT_FALSE(code->signaled);
  EXPECT_EQ(code->pid_namespace, ns());
  // Not PID 1 of its namespace: a default-action signal it sends itself still kills it, as a crash.
  auto sig = util::run_process({"/bin/sh", "-c", "kill -ABRT $$"}, options(ns()), [](const std::string&) {});
  ASSERT_TRUE(sig);
  EXPECT_TRUE(sig->signaled);
  EXPECT_EQ(sig->signal, SIGABRT);
  auto missing = util::run_process({"/no/such/program"}, options(ns()), [](const std::string&) {});
  EXPECT_FALSE(missing);
  // In a user namespace of its own too, it is still us: files it writes keep our owner.
  std::string uid;
  auto id = util::run_process({"/bin/sh", "-c", "id -u"}, options(ns()), [&](const std::string& l) { uid = l; });
  ASSERT_TRUE(id);
  EXPECT_EQ(uid, std::to_string(::geteuid()));
}

TEST_P(Process, LeftoversDieWhenTheCommandExits) {
  const auto m = marker(1);
  auto r = util::run_process({"/bin/sh", "-c", "sleep " + m + " >/dev/null 2>&1 & exit 0"}, options(ns()),
                             [](const std::string&) {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_TRUE(all_gone(m)) << "a background child outlived the command";
}

TEST_P(Process, TimeoutKillsTheTree) {
  const auto m = marker(2);
  auto o = options(ns());
  o.quiet_limit = 300ms;
  // In a PID namespace, also one that left the group (before, it outlived the timeout).
  const auto script = "sh -c 'sleep " + m + "' & sleep " + m + " & " +
                      (ns() ? "setsid sleep " + m + " >/dev/null 2>&1 & " : "") + "wait";
  auto r = util::run_process({"/bin/sh", "-c", script}, o, [](const std::string&) {});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->timed_out);
  EXPECT_TRUE(all_gone(m));
}

/// The parent that runs the child is killed with SIGKILL: nothing the child started may survive it.
/// (Before, only the direct child had a parent-death signal; its children were adopted by init.)
TEST_P(Process, KillingTheParentWithSigkillKillsTheTree) {
  const auto m = marker(3);
  const auto script = "sh -c 'sleep " + m + "' & sleep " + m + " & wait";
  const pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    (void)util::run_process({"/bin/sh", "-c", script}, options(ns()), [](const std::string&) {});
    ::_exit(0);
  }
  ASSERT_TRUE(wait_for(m, 2)) << "the child's sleeps did not start";
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);
  EXPECT_TRUE(all_gone(m)) << "the child's tree outlived its parent's SIGKILL";
}

/// A grandchild that leaves the process group (setsid) dies too, where there is a PID namespace.
TEST_P(Process, SetsidGrandchildDiesInAPidNamespace) {
  if (!ns()) GTEST_SKIP() << "a process group cannot hold a setsid grandchild; only a PID namespace can";
  const auto m = marker(4);
  auto r = util::run_process({"/bin/sh", "-c", "setsid sleep " + m + " >/dev/null 2>&1 & exit 0"}, options(true),
                             [](const std::string&) {});
  ASSERT_TRUE(r);
  EXPECT_TRUE(all_gone(m)) << "the setsid grandchild outlived the command";

  const auto m2 = marker(5);
  const pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    (void)util::run_process({"/bin/sh", "-c", "setsid sleep " + m2 + " >/dev/null 2>&1 & wait"}, options(true),
                            [](const std::string&) {});
    ::_exit(0);
  }
  ASSERT_TRUE(wait_for(m2, 1));
  ::kill(parent, SIGKILL);
  ::waitpid(parent, nullptr, 0);
  EXPECT_TRUE(all_gone(m2)) << "the setsid grandchild outlived its grandparent's SIGKILL";
}

}  // namespace
}  // namespace ak

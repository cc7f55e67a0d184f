// util::Slot, the counting semaphore of flock'd files that bounds a host's compiles ahead (loop/compile_ahead):
// it counts holders across threads and processes, a dead holder frees its slot, a child the holder started
// does not keep it, and a waiter gets the first slot freed or gives up when cancelled.
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "util/fs.hpp"
#include "util/slots.hpp"

extern char** environ;

namespace ak {
namespace {

namespace fs = std::filesystem;

fs::path fresh(const std::string& name) {
  auto dir = fs::temp_directory_path() / fmt::format("ak_slots_{}_{}", name, ::getpid());
  (void)util::remove_tree(dir);
  return dir;
}

std::optional<util::Slot> take_now(const fs::path& dir, int count) {
  auto s = util::Slot::try_take(dir, count);
  EXPECT_TRUE(s) << s.error().message;
  if (!s) return std::nullopt;
  return std::move(*s);
}

TEST(Slot, CountsHoldersAcrossThreadsOfOneProcess) {
  const auto dir = fresh("threads");
  auto a = take_now(dir, 2);
  auto b = take_now(dir, 2);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->index(), b->index());
  EXPECT_FALSE(take_now(dir, 2)) << "a third holder of two slots";
  // Another thread is one more holder, not the same one.
  std::optional<util::Slot> other;
  std::thread([&] { other = take_now(dir, 3); }).join();
  ASSERT_TRUE(other);
  EXPECT_EQ(other->index(), 2);
  b.reset();
  auto c = take_now(dir, 2);
  ASSERT_TRUE(c) << "a released slot was not free again";
  (void)util::remove_tree(dir);
}

TEST(Slot, AnotherProcessHoldsOneUntilItDies) {
  if (!fs::exists("/usr/bin/flock")) GTEST_SKIP() << "no flock(1) to hold a slot from another process";
  const auto dir = fresh("process");
  fs::create_directories(dir);
  // Another process's lock on slot-0: flock(1) takes the same flock(2) lock. Its group is killed at the end. -o: the
  // sleep does not inherit the lock, so once waitpid has reaped flock(1) the lock is gone (without it the sleep,
  // killed too but perhaps not yet exited, could still hold it: a race seen once in CI).
  std::vector<std::string> args = {"/usr/bin/flock", "-o", "-x", (dir / "slot-0").string(), "/bin/sleep", "60"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t holder = -1;
  ASSERT_EQ(::posix_spawn(&holder, argv[0], nullptr, &attr, argv.data(), environ), 0);
  posix_spawnattr_destroy(&attr);
  bool held = false;
  for (int i = 0; i < 200 && !held; ++i) {
    held = !take_now(dir, 1);
    if (!held) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(held) << "flock(1) never took slot-0";
  auto mine = take_now(dir, 2);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->index(), 1);
  EXPECT_FALSE(take_now(dir, 2)) << "the other process's slot was taken twice";
  ::kill(-holder, SIGKILL);
  ::waitpid(holder, nullptr, 0);
  // The rest of the killed group exits on its own time: flock(1)'s child, killed between its fork and closing the
  // lock's descriptor (-o), holds the lock until it has exited, which waitpid on flock(1) does not wait for (once
  // in CI: the slot still taken 2 ms after). So the slot must come free within a few seconds, not at once.
  auto freed = take_now(dir, 2);
  for (int i = 0; i < 250 && !freed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    freed = take_now(dir, 2);
  }
  ASSERT_TRUE(freed) << "a killed holder's slot stayed taken";
  EXPECT_EQ(freed->index(), 0);
  (void)util::remove_tree(dir);
}

TEST(Slot, AChildOfTheHolderDoesNotKeepItsSlot) {
  // A compiler started while a slot is held must not hold it on after the slot is released.
  const auto dir = fresh("child");
  auto held = take_now(dir, 1);
  ASSERT_TRUE(held);
  std::vector<std::string> args = {"/bin/sleep", "30"};
  std::vector<char*> argv = {args[0].data(), args[1].data(), nullptr};
  pid_t sleeper = -1;
  ASSERT_EQ(::posix_spawn(&sleeper, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  held.reset();
  EXPECT_TRUE(take_now(dir, 1)) << "the child kept the slot";
  ::kill(sleeper, SIGKILL);
  ::waitpid(sleeper, nullptr, 0);
  (void)util::remove_tree(dir);
}

TEST(Slot, AWaiterGetsTheSlotFreedOrGivesUpWhenCancelled) {
  const auto dir = fresh("wait");
  auto held = take_now(dir, 1);
  ASSERT_TRUE(held);
  std::atomic<bool> cancel{false}, got{false};
  std::thread waiter([&] {
    auto s = util::Slot::take(dir, 1, cancel);
    got = s && *s;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(got) << "took a slot another holder has";
  held.reset();
  waiter.join();
  EXPECT_TRUE(got);
  held = take_now(dir, 1);
  ASSERT_TRUE(held);
  got = false;
  std::thread giving_up([&] {
    auto s = util::Slot::take(dir, 1, cancel);
    got = s && *s;
  });
  cancel = true;
  giving_up.join();
  EXPECT_FALSE(got);
  (void)util::remove_tree(dir);
}

}  // namespace
}  // namespace ak

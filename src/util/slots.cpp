#include "util/slots.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace ak::util {

Expected<std::optional<Slot>> Slot::try_take(const std::filesystem::path& dir, int count) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(fmt::format("cannot make {}: {}", dir.string(), ec.message()));
  for (int i = 0; i < count; ++i) {
    const auto file = dir / fmt::format("slot-{}", i);
    // Close-on-exec: a child (the compiler) must not keep the lock alive after we release it.
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail(fmt::format("cannot open {}: {}", file.string(), std::strerror(errno)));
    // Each open is its own lock owner, so two threads of one process count as two holders too.
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Slot(fd, i);
    ::close(fd);
  }
  return std::nullopt;
}

Expected<std::optional<Slot>> Slot::take(const std::filesystem::path& dir, int count, const std::atomic<bool>& cancel,
                                         int poll_ms) {
  while (!cancel) {
    auto s = try_take(dir, count);
    if (!s || *s) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  return std::nullopt;
}

Slot& Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = other.m_fd;
    m_index = other.m_index;
    other.m_fd = -1;
  }
  return *this;
}

Slot::~Slot() {
  if (m_fd >= 0) ::close(m_fd);  // closing the last descriptor of the open file drops its flock
}

}  // namespace ak::util

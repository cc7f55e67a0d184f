// A counting semaphore across processes: `count` slot files in one folder, a slot taken while its file is held
// under an exclusive flock. The kernel drops a dead process's locks, so a killed holder frees its slot.
#pragma once

#include <atomic>
#include <filesystem>
#include <optional>

#include "util/error.hpp"

namespace ak::util {

/// One slot held; released when destroyed. Move-only.
class Slot {
 public:
  /// Take a free slot of `dir`'s `count` (slot-0 ... slot-<count-1>, made on demand), or nullopt if all are
  /// held. An error when `dir` cannot be made or a slot file not opened.
  static Expected<std::optional<Slot>> try_take(const std::filesystem::path& dir, int count);
  /// Wait for a free slot, trying every `poll` [ms]; nullopt when `cancel` becomes true first.
  static Expected<std::optional<Slot>> take(const std::filesystem::path& dir, int count,
                                            const std::atomic<bool>& cancel, int poll_ms = 20);

  Slot(Slot&& other) noexcept : m_fd(other.m_fd), m_index(other.m_index) { other.m_fd = -1; }
  Slot& operator=(Slot&& other) noexcept;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot();

  int index() const { return m_index; }  ///< which of the `count` slots

 private:
  Slot(int fd, int index) : m_fd(fd), m_index(index) {}
  int m_fd = -1;
  int m_index = 0;
};

}  // namespace ak::util

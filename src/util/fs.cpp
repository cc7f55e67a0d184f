#include "util/fs.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <ftw.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

namespace ak::util {

std::string io_error_text(int err) {
  if (err == ENOSPC || err == EDQUOT) return fmt::format("{} (the disk is full)", std::strerror(err));
  return std::strerror(err);
}

std::string hint_for(int err) {
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) return "free some disk space, then run the command again";
  return "";
}

bool says_disk_full(std::string_view message) {
  return message.find(std::strerror(ENOSPC)) != std::string_view::npos ||
         message.find(std::strerror(EDQUOT)) != std::string_view::npos;
}

Expected<std::string> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return fail(fmt::format("no such file: {}", path.string()));
  }
  if (std::filesystem::is_directory(path, ec)) {
    return fail(fmt::format("{} is a directory, not a file", path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(fmt::format("cannot read {}", path.string()));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Expected<void> write_all(int fd, std::string_view content, const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return fail(fmt::format("writing {} failed: {}", path.string(), io_error_text(n < 0 ? errno : ENOSPC)),
                  hint_for(n < 0 ? errno : ENOSPC));
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  auto tmp = path;
  tmp += ".tmp." + unique_suffix();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return fail(fmt::format("cannot write {}: {}", tmp.string(), io_error_text(err)), hint_for(err));
  }
  auto w = write_all(fd, content, tmp);
  // fsync: on a full disk a delayed allocation fails here or at close, not at write().
  if (w && ::fsync(fd) != 0 && errno != EINVAL) {
    w = fail(fmt::format("writing {} failed: {}", tmp.string(), io_error_text(errno)), hint_for(errno));
  }
  if (::close(fd) != 0 && w)
    w = fail(fmt::format("writing {} failed: {}", tmp.string(), io_error_text(errno)), hint_for(errno));
  if (!w) {
    ::unlink(tmp.c_str());  // never leave a half-written file behind
    return w;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return fail(fmt::format("cannot rename into {}: {}", path.string(), io_error_text(err)), hint_for(err));
  }
  return {};
}

Expected<void> remove_tree(const std::filesystem::path& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return {};
  auto unlink_one = [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); };
  if (::nftw(path.c_str(), unlink_one, 64, FTW_DEPTH | FTW_PHYS) != 0) {
    return fail(fmt::format("cannot remove {}: {}", path.string(), std::strerror(errno)));
  }
  return {};
}

std::string content_hash(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a 64 offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;  // FNV-1a 64 prime
  }
  return fmt::format("{:016x}", h);
}

std::filesystem::path cache_dir() {
  std::filesystem::path dir;
  if (const char* e = std::getenv("AUTOKERNEL_CACHE"); e && *e) {
    dir = e;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    dir = std::filesystem::path(x) / "autokernel";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir = std::filesystem::path(home) / ".cache" / "autokernel";
  } else {
    dir = std::filesystem::temp_directory_path() / "autokernel-cache";
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  return dir;
}

std::string unique_suffix() {
  static const std::uint64_t random = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  static std::atomic<std::uint64_t> count{0};
  return fmt::format("{}-{:x}-{}", ::getpid(), random, count++);
}

}  // namespace ak::util

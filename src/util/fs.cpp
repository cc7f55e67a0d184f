#include "util/fs.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ak::util {

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

Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  auto tmp = path;
  tmp += fmt::format(".tmp.{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return fail(fmt::format("cannot write {}", tmp.string()));
    }
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      return fail(fmt::format("writing {} failed (disk full?)", tmp.string()));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return fail(fmt::format("cannot rename into {}", path.string()));
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

}  // namespace ak::util

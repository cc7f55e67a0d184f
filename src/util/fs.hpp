// Small filesystem helpers that know nothing about autokernel.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace ak::util {

/// Whole file as a string, or an error naming the path.
Expected<std::string> read_file(const std::filesystem::path& path);

/// Write atomically: to a temporary file beside `path`, then rename over it.
Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// 64-bit FNV-1a of some bytes, as 16 hex digits: the content hash of the build cache.
std::string content_hash(std::string_view bytes);

/// $AUTOKERNEL_CACHE, else $XDG_CACHE_HOME/autokernel, else ~/.cache/autokernel; created on demand.
std::filesystem::path cache_dir();

}  // namespace ak::util

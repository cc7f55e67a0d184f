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

/// Remove a file or a whole tree (no error if absent). Use this, never std::filesystem::remove_all:
/// libtorch.so exports its own build of that function, which the loader may bind instead, and it crashes.
Expected<void> remove_tree(const std::filesystem::path& path);

/// 64-bit FNV-1a of some bytes, as 16 hex digits: the content hash of the build cache.
std::string content_hash(std::string_view bytes);

/// $AUTOKERNEL_CACHE, else $XDG_CACHE_HOME/autokernel, else ~/.cache/autokernel; created on demand.
std::filesystem::path cache_dir();

}  // namespace ak::util

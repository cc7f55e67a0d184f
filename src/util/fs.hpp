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

/// Write atomically: to a temporary file beside `path`, flushed to disk, then renamed over it. On any
/// failure (a full disk included, with a message that says so) `path` is left as it was.
Expected<void> write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// strerror(err), saying "the disk is full" where that is what it means.
std::string io_error_text(int err);
/// What to do about an I/O error `err` ("" when there is nothing useful to say).
std::string hint_for(int err);

/// Whether a tool's message (a compiler's, git's) says the disk is full: then what failed is the machine,
/// not the input it was given.
bool says_disk_full(std::string_view message);

/// Write all of `content` to `fd` (retrying short writes); `path` names it in the error.
Expected<void> write_all(int fd, std::string_view content, const std::filesystem::path& path);

/// Remove a file or a whole tree (no error if absent). Use this, never std::filesystem::remove_all:
/// libtorch.so exports its own build of that function, which the loader may bind instead, and it crashes.
Expected<void> remove_tree(const std::filesystem::path& path);

/// 64-bit FNV-1a of some bytes, as 16 hex digits: the content hash of the build cache.
std::string content_hash(std::string_view bytes);

/// For a temporary's name: one no other process writing beside us uses. The pid alone is not that: every
/// child runs as the same pid inside a PID namespace of its own (util/process.cpp).
std::string unique_suffix();

/// $AUTOKERNEL_CACHE, else $XDG_CACHE_HOME/autokernel, else ~/.cache/autokernel; created on demand.
std::filesystem::path cache_dir();

}  // namespace ak::util

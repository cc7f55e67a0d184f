// Shared by the cpu and cuda backends: compile one C++/CUDA source to a shared library through the
// content-hash cache, dlopen it and call its ak_kernel through the C ABI (kernels/include/autokernel/kernel_abi.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "backends/backend.hpp"

namespace ak::backends::native {

struct CompileSpec {
  std::vector<std::string> command;  ///< compiler and flags, without the source and -o
  std::string tag;                   ///< "cpu" | "cuda-sm_90a": part of the cache key and file name
};

/// Build (or reuse) `<cache>/build/<tag>-<hash>.so`. -D flags for every knob are added here.
Expected<std::filesystem::path> compile(const Candidate& c, const CompileSpec& spec);

/// dlopen a built library and wrap its ak_kernel. `stream` returns the stream to pass (NULL on cpu).
Expected<std::unique_ptr<LoadedKernel>> load_library(const std::filesystem::path& so, void* (*stream)());

/// The relative path and text of every header (.h .hpp .hh .cuh .inc .inl) in `dir` (and below it when
/// `recursive`), in path order; empty for a missing directory. Part of a build's cache key.
std::string headers_key(const std::filesystem::path& dir, bool recursive);

/// First of $env_var, PATH lookup of `name`, `fallback` that exists; empty if none.
std::string find_tool(const char* env_var, const std::string& name, const std::string& fallback);

}  // namespace ak::backends::native

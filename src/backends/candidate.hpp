// A candidate kernel: one source file, its declared kernel type, its knobs and the values chosen for them.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "util/error.hpp"

namespace ak::backends {

/// A tunable declared in the source as `@knob NAME=default {v1,v2,...} description`.
struct Knob {
  std::string name;
  std::string default_value;
  std::vector<std::string> values;  ///< the search space; contains the default
  std::string description;
};

struct Candidate {
  std::filesystem::path path;
  std::string source;
  std::string type;     ///< from `@autokernel type=NAME`
  std::string backend;  ///< "cuda" | "triton" | "cpu"
  std::vector<Knob> knobs;
  std::map<std::string, std::string> knob_values;  ///< every knob, default unless overridden
};

/// The backend a file's extension implies: .cu -> cuda, .py -> triton, .cpp/.cc -> cpu.
Expected<std::string> backend_for_extension(const std::filesystem::path& path);

/// Resolve --kernel: a file, or a directory holding one candidate (kernel.cu|kernel.py|kernel.cpp, or
/// cuda.cu|triton.py|cpu.cpp as in kernels/<type>/). `backend` may be empty (inferred).
Expected<std::filesystem::path> resolve_kernel_path(const std::filesystem::path& path, const std::string& backend);

/// Read and parse a candidate; `overrides` are NAME=value knob settings and must name declared knobs.
Expected<Candidate> load_candidate(const std::filesystem::path& path, const std::string& backend,
                                   const std::map<std::string, std::string>& overrides = {});

/// Parse `source` as the candidate file at `path` would be (load_candidate without reading the file): what a
/// proposal becomes before it is written, to compile it ahead (loop/compile_ahead). `path` should be absolute.
Expected<Candidate> parse_candidate(const std::filesystem::path& path, std::string source, const std::string& backend);

/// Parse the `@knob` lines of a source text.
Expected<std::vector<Knob>> parse_knobs(const std::string& source);

/// The source with the defaults of the named knobs set to `values` (the search proposer's edit: the
/// file itself then records the configuration, and its diff shows the change).
std::string with_knob_defaults(const std::string& source, const std::map<std::string, std::string>& values);

/// "A=1,B=2": a configuration as one string (sorted by name).
std::string config_string(const std::map<std::string, std::string>& values);

/// A knob's value as a Triton candidate sees it (a module global): an integer, a float, a bool
/// ("True"/"true", "False"/"false"), else a string (one pair of surrounding quotes removed).
using KnobScalar = std::variant<long long, double, bool, std::string>;
KnobScalar knob_scalar(const std::string& value);

}  // namespace ak::backends

// Run a child process, stream its stdout line by line, and stop it when it goes quiet too long.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ak::util {

struct ProcessResult {
  int exit_code = -1;          ///< valid when !signaled && !timed_out
  bool signaled = false;       ///< killed by a signal it did not handle (crash)
  int signal = 0;
  bool timed_out = false;      ///< we killed it: no output line for `quiet_limit`, or past `total_limit`
  std::string stderr_tail;     ///< the last few KB of what it wrote to stderr
  double elapsed_s = 0;
};

struct ProcessOptions {
  std::chrono::milliseconds quiet_limit{std::chrono::seconds(60)};  ///< max time between two stdout lines
  std::chrono::milliseconds total_limit{std::chrono::hours(1)};     ///< max lifetime
  std::vector<std::string> extra_env;                               ///< "NAME=value" added to ours
};

/// Start argv[0] (a path) with argv, call on_line for each stdout line as it arrives, wait for it.
/// The child gets its own process group, so a timeout kills everything it started, and it is killed
/// when this process dies (Linux's parent-death signal), so nothing outlives an interrupted run.
Expected<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options,
                                    const std::function<void(const std::string&)>& on_line);

/// Run a command to completion and capture stdout+stderr together (for compilers).
struct CommandOutput {
  int exit_code = -1;
  std::string output;
  bool timed_out = false;
};
Expected<CommandOutput> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds limit);

/// Path of the running executable (to start our own worker).
std::string self_executable();

}  // namespace ak::util

// Run a child process, stream its stdout line by line, and stop it when it goes quiet too long.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "util/error.hpp"

namespace ak::util {

struct ProcessResult {
  int exit_code = -1;     ///< valid when !signaled && !timed_out
  bool signaled = false;  ///< killed by a signal it did not handle (crash)
  int signal = 0;
  bool timed_out = false;   ///< we killed it: no output line for `quiet_limit`, or past `total_limit`
  std::string stderr_tail;  ///< the last few KB of what it wrote to stderr
  double elapsed_s = 0;
  bool pid_namespace = false;  ///< it ran in a PID namespace of its own: even a setsid grandchild died with it
};

struct ProcessOptions {
  std::chrono::milliseconds quiet_limit{std::chrono::seconds(60)};  ///< max time between two stdout lines
  std::chrono::milliseconds total_limit{std::chrono::hours(1)};     ///< max lifetime
  std::vector<std::string> extra_env;                               ///< "NAME=value" added to ours
  /// Try a PID namespace (else the process group only). Off by default: CUDA fails inside one
  /// (cudaGetDeviceCount gives error 304 on the H100/H200 machines), so only a child that needs no GPU
  /// may ask for it.
  bool pid_namespace = false;
};

/// Start argv[0] (a path) with argv, call on_line for each stdout line as it arrives, wait for it.
/// The child and everything it starts are killed as a tree when it exits, when it times out and when this
/// process dies, by any signal (SIGKILL too): nothing outlives an interrupted run. The tree is a PID
/// namespace where the system allows one, else a process group (which a setsid grandchild escapes);
/// process.cpp says how.
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

/// This process's command line as it was started, argv[0] first (from /proc/self/cmdline).
std::vector<std::string> self_arguments();

/// The short name of the host this process runs on (`hostname -s`: "node07"); "localhost" when it has none.
std::string host_name();

}  // namespace ak::util

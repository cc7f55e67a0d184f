// `autokernel run --slurm-array`: past one host, on Slurm rather than a scheduler of our own. It prepares
// the workspace as a run does (kernels added and committed) and writes an sbatch script whose array task i
// is one worker (`run --worker-kernel`, loop/multi_worker.hpp) on the i-th kernel in the loop's Amdahl order,
// in that kernel's own worktree, appending to the shared results.tsv under its flock (which needs a shared
// file system that honours flock: NFSv4, Lustre, GPFS). Afterwards `autokernel merge` merges every kernel's
// branch into autokernel/<tag>. Why Slurm and not Ray: it is what GPU clusters already run, it needs no
// Python driver and no new dependency of the C++ core; a Ray task could run the same worker command later.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "loop/run_loop.hpp"
#include "util/error.hpp"

namespace ak::loop {

struct SlurmArray {
  std::filesystem::path script;
  std::vector<std::string> kernels;  ///< task i works on kernels[i]
};

/// Write the script to <workspace>/.autokernel/slurm/<tag>.sbatch. `worker_argv` is the worker's command line
/// without --workspace, --kernel and --worker-kernel (the script adds the absolute workspace and the task's
/// kernel); the tasks run in `cwd`. A task asks Slurm for one GPU when a kernel is not a CPU one.
Expected<SlurmArray> write_slurm_array(const RunOptions& options, const std::vector<std::string>& worker_argv,
                                       const std::filesystem::path& cwd,
                                       const std::function<void(const std::string&)>& print);

}  // namespace ak::loop

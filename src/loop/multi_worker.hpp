// `autokernel run --gpus LIST` with several devices: one worker process per device, each pinned to it
// (CUDA_VISIBLE_DEVICES), taking the workspace's kernels from one queue in the loop's Amdahl order; when a
// worker's kernel is done it takes the next. A worker is this binary's own `run`, on one kernel, in that
// kernel's git worktree (workspace::WorkerSpec), appending to the one results.tsv, so everything the loop
// promises alone (atomic rows, nothing lost on kill -9, resume by running the same command) holds for each.
// The parent only hands out kernels, prefixes the workers' lines with their device, keeps run.json's list of
// workers for `status`, and merges each finished kernel's branch into autokernel/<tag>.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "loop/run_loop.hpp"
#include "util/error.hpp"

namespace ak::loop {

struct Device {
  std::string id;  ///< as rows and lines show it: "0", "3" (a GPU), "cpu:0" (a CPU worker)
  bool gpu = false;
  int index = 0;      ///< the GPU's CUDA index, for CUDA_VISIBLE_DEVICES
  std::string model;  ///< what timings are compared within: the GPU's name (the caller's, from hw), or "cpu"
};

/// Parse --gpus: a list of GPU indices ("0,1,3"), "all", or "cpu:N" (N >= 1 CPU workers, standing in for
/// GPUs: for CPU kernels and tests). `gpu_count` is how many GPUs this machine has. Unknown, duplicate or
/// absent devices are refused with a hint.
Expected<std::vector<Device>> parse_devices(const std::string& text, int gpu_count);

/// Run the workers until every kernel is handed out and finished, the budget is spent or a stop is
/// requested. Then, with every kernel done and no worker failed, each kernel whose best row was measured on
/// another device than the first listed (the reference) is timed again at that best version by a worker pinned
/// to the reference (retime_best): one `retimed` row, the speed-up report and status show. A best version that
/// has its retimed row is not timed again, so the same command after an interruption times what is missing.
/// `worker_argv` starts each worker (this binary's `run` with the parent's options, less --gpus and --budget); each
/// gets --worker-kernel, --device, --device-model and what is left of the budget. A worker that fails or dies leaves
/// its kernel for the next run: the others go on, and the error is returned at the end.
Expected<void> run_workers(const RunOptions& options, const std::vector<Device>& devices,
                           const std::vector<std::string>& worker_argv,
                           const std::function<void(const std::string&)>& print);

/// The worker's part of a re-timing (options.retime_commit set): bench options.worker_kernel's best version
/// in its worktree on this process's device and append its `retimed` row.
Expected<void> retime_best(const RunOptions& options, const std::function<void(const std::string&)>& print);

/// `autokernel merge`: merge every kernel's worker branch (autokernel-worker/<tag>/<kernel>) into
/// autokernel/<tag>, as the parent of `run --gpus` does when a kernel is finished; for the workers of a Slurm
/// array (loop/slurm_array.hpp), which have no parent. A kernel whose worker is still running is refused; an
/// experiment a killed worker left unrecorded is reverted first. Returns the kernels merged.
Expected<std::vector<std::string>> merge_worker_branches(const std::filesystem::path& workspace, const std::string& tag,
                                                         const std::function<void(const std::string&)>& print);

/// `autokernel merge --retime DEVICE`, after the merge: each kernel's best version of `tag` that another device
/// measured (a Slurm array's rows are each task's own GPU's) is timed again on `ref`, one at a time, by a worker
/// pinned to it, as run_workers does at its end; `worker_argv` is this binary's `run` with the workspace, the
/// tag and the bench's options. A best version with its retimed row of `ref` is not timed again. Returns the
/// kernels whose best version `ref` has now timed again.
Expected<std::vector<std::string>> retime_bests(const std::filesystem::path& workspace, const std::string& tag,
                                                const Device& ref, const std::vector<std::string>& worker_argv,
                                                const std::function<void(const std::string&)>& print);

/// The first line a worker prints, for its parent: its pid, to forward Ctrl-C to it (it runs in a process
/// group of its own, where the terminal's Ctrl-C does not reach).
inline constexpr const char* k_worker_pid_prefix = "@@ak-worker pid=";

}  // namespace ak::loop

// A run's workspace, as files: its own git repository (branch autokernel/<tag>, one commit per
// experiment), its kernels (kernels/<name>/kernel.{cu,py,cpp}, each with extract's model.json) and
// results.tsv. Opening it takes an exclusive lock and reverts an experiment a killed run left unrecorded,
// so every user of it (run, keep, revert) sees a consistent state. Running an experiment is the loop's
// (loop/experiment); this part only keeps the files.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "workspace/git_repo.hpp"
#include "workspace/results_log.hpp"
#include "util/error.hpp"

namespace ak::workspace {

struct WorkspaceKernel {
  std::string name;            ///< e.g. rmsnorm_cuda
  std::filesystem::path file;  ///< relative to the workspace
  std::string backend;
  double model_share = 0;  ///< of the model's time, from extract's model.json (0: not known); for a fusion's
                           ///< unfused form, its share in an uncompiled model, where it stands in for the fusion
};

/// What one worker of `run --gpus` works on: one kernel, in a git worktree and on a branch of its own
/// (worktree_dir, worker_branch), so that workers never share an index or a work tree; its rows go to the
/// main workspace's results.tsv, beside the other workers'.
struct WorkerSpec {
  std::string kernel;
  std::string device;     ///< "0", "cpu:1": recorded in each of its rows
  std::string gpu_model;  ///< its device's model: rows of other models are not its own (timings compare within one)
};

class Workspace {
 public:
  using Printer = std::function<void(const std::string&)>;
  /// Open (creating it if needed) the workspace at `dir` for run `tag`.
  static Expected<std::unique_ptr<Workspace>> open(const std::filesystem::path& dir, const std::string& tag,
                                                   const Printer& print);
  /// Open a worker's view of the workspace at `main_dir` (which must exist): the worktree of `w.kernel`, made
  /// on first use from the branch autokernel/<tag>, locked against a second worker on that kernel. Its rows()
  /// are this tag's rows of `w.gpu_model`, and its experiment numbers are taken from the shared results.tsv.
  static Expected<std::unique_ptr<Workspace>> open_worker(const std::filesystem::path& main_dir, const std::string& tag,
                                                          const WorkerSpec& w, const Printer& print);
  /// Where kernel `kernel`'s worktree is: inside the run's own ignored files.
  static std::filesystem::path worktree_dir(const std::filesystem::path& main_dir, const std::string& kernel);
  /// Its branch: beside autokernel/<tag> (a ref cannot be both a branch and a folder of branches).
  static std::string worker_branch(const std::string& tag, const std::string& kernel);
  ~Workspace();

  /// Check `--kernel` files before anything is written: each must load, and a type and backend may come
  /// from one file only. A kernel the workspace at `dir` already has may be named again only with the
  /// file it came from (resuming with the same command line); any other file is refused.
  static Expected<void> check_new_kernels(const std::filesystem::path& dir, const std::vector<std::string>& files);
  /// Copy a candidate file in as kernels/<type>_<backend>/kernel.<ext>, with the headers beside it that it
  /// includes (`#include "x.h"`); a no-op if that kernel exists.
  Expected<std::string> add_kernel(const std::string& file);
  std::vector<WorkspaceKernel> kernels() const;
  Expected<WorkspaceKernel> kernel(const std::string& name) const;

  /// This tag's rows, oldest first.
  const std::vector<ResultRow>& rows() const { return m_rows; }
  /// The kernel's current best row (its baseline or its last kept experiment), or null.
  const ResultRow* best(const std::string& kernel) const;

  /// Record an experiment that produced no candidate (no commit).
  Expected<ResultRow> record_failure(const WorkspaceKernel& k, const std::string& description, const std::string& why);
  /// Record a hand revert of the kernel's uncommitted edit (agent-driven mode).
  Expected<ResultRow> record_revert(const WorkspaceKernel& k, const std::string& description);

  /// Append a row to results.tsv and to rows(): the only way a row is written.
  Expected<void> append(const ResultRow& row);
  /// The number of the experiment about to run, over every tag's rows; a worker's is taken from the shared
  /// results.tsv (ResultsLog::take_number), so two workers never use one.
  Expected<int> take_experiment_number();
  /// The device recorded in the rows (`run --gpus` with one device; a worker's is its WorkerSpec's).
  void set_device(const std::string& device) { m_device = device; }

  GitRepo& repo() { return m_repo; }
  const std::filesystem::path& dir() const { return m_dir; }
  const std::string& tag() const { return m_tag; }

 private:
  Workspace(std::filesystem::path dir, std::string tag, int lock_fd, const std::filesystem::path& results_dir);
  /// What open and open_worker share once the work tree exists and is locked: the branch, the rows, the
  /// revert of an experiment a kill left unrecorded.
  static Expected<std::unique_ptr<Workspace>> finish_open(std::unique_ptr<Workspace> ws, const std::string& branch,
                                                          const Printer& print);
  /// A row for an experiment with no candidate commit (the row's commit is HEAD).
  Expected<ResultRow> record_without_commit(const WorkspaceKernel& k, Status status, const std::string& correctness,
                                            const std::string& description);

  std::filesystem::path m_dir;
  std::string m_tag;
  int m_lock_fd;
  GitRepo m_repo;
  ResultsLog m_log;
  std::vector<ResultRow> m_rows;    ///< this tag's (a worker's: of its GPU model)
  int m_next_experiment = 0;        ///< over every tag's rows
  std::filesystem::path m_counter;  ///< a worker's: the shared experiment counter ("" when the run is alone)
  std::string m_device;
  std::string m_gpu_model;  ///< a worker's: its rows' model, and the only model whose rows it reads
};

}  // namespace ak::workspace

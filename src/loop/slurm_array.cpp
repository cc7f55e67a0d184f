#include "loop/slurm_array.hpp"

#include <algorithm>

#include <fmt/ranges.h>

#include "util/fs.hpp"

namespace ak::loop {
namespace {

/// `s` as one word for bash, whatever it holds.
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

Expected<SlurmArray> write_slurm_array(const RunOptions& o, const std::vector<std::string>& worker_argv,
                                       const std::filesystem::path& cwd,
                                       const std::function<void(const std::string&)>& print) {
  auto run = open_run(o, print);  // --kernel files added and committed: every task's worktree starts with them
  if (!run) return std::unexpected(run.error());
  const auto& ws = *run->ws;
  SlurmArray out;
  out.kernels = kernel_order(run->kernels, ws.rows(), o);
  const bool gpu =
      std::ranges::any_of(run->kernels, [](const workspace::WorkspaceKernel& k) { return k.backend != "cpu"; });
  const auto dir = ws.dir() / ".autokernel" / "slurm";
  out.script = dir / (o.tag + ".sbatch");
  std::vector<std::string> words;
  for (const auto& a : worker_argv) words.push_back(shell_quote(a));
  std::vector<std::string> names;
  for (const auto& k : out.kernels) names.push_back(shell_quote(k));
  std::string text = "#!/bin/bash\n";
  text += fmt::format(
      "# autokernel run {} as a Slurm job array: task i is one worker on kernel i, in its own git worktree.\n"
      "# Submit with `sbatch {}`; when every task has ended: autokernel merge --workspace {} --tag {}\n",
      o.tag, out.script.string(), ws.dir().string(), o.tag);
  text += fmt::format("#SBATCH --job-name=autokernel-{}\n", o.tag);
  text += fmt::format("#SBATCH --array=0-{}\n", out.kernels.size() - 1);
  text += "#SBATCH --ntasks=1\n";
  if (gpu) text += "#SBATCH --gres=gpu:1\n";
  text += fmt::format("#SBATCH --chdir={}\n", cwd.string());
  text += fmt::format("#SBATCH --output={}/%A_%a.out\n", dir.string());
  text += "set -euo pipefail\n";
  text += fmt::format("cd {}\n", shell_quote(cwd.string()));  // also when the script is run by hand
  text += fmt::format("KERNELS=({})\n", fmt::join(names, " "));
  text += ": \"${SLURM_ARRAY_TASK_ID:?submit this with sbatch, or set SLURM_ARRAY_TASK_ID}\"\n";
  // The device rows record: the host and the GPU Slurm gave the task.
  text +=
      fmt::format("exec {} --workspace {} --worker-kernel \"${{KERNELS[$SLURM_ARRAY_TASK_ID]}}\" \\\n  --device {}\n",
                  fmt::join(words, " "), shell_quote(ws.dir().string()),
                  gpu ? "\"$(hostname -s):${CUDA_VISIBLE_DEVICES:-0}\"" : "\"$(hostname -s):cpu\"");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (auto w = util::write_file_atomic(out.script, text); !w) return std::unexpected(w.error());
  std::filesystem::permissions(out.script, std::filesystem::perms::owner_exec, std::filesystem::perm_options::add, ec);
  return out;
}

}  // namespace ak::loop

// Compiling ahead (issue 21: "compilation on a CPU pool, only one candidate timed on a GPU at a time"). While
// the loop times one candidate, the next ones its proposer would give should this one not be kept
// (Proposer::lookahead) are compiled by a few threads of the loop's process into the build cache the backends
// share (backends/native: $AUTOKERNEL_CACHE/build, keyed by the source, the command and the headers), where the
// bench's worker then finds them built. The timing stays one candidate at a time per device: only compiles
// overlap it. Each compile ahead holds one of its host's slots (util::Slot, as many as the host has cores), so
// the workers of one host together never run more compiles ahead than it has cores; the candidate about to be
// timed is compiled by its own bench, as without compiling ahead, and holds none.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backends/candidate.hpp"
#include "util/error.hpp"

namespace ak::loop {

class CompileAhead {
 public:
  /// Compiles one candidate into the build cache; the default is build_into_cache.
  using Build = std::function<Expected<void>(const backends::Candidate&)>;

  /// `threads` (>= 1) compile at once at most in this process, each holding one of the `slots` files in
  /// `slot_dir` while it compiles.
  CompileAhead(int threads, std::filesystem::path slot_dir, int slots, Build build = {});
  /// Drops the compiles not started and waits for those under way.
  ~CompileAhead();
  CompileAhead(const CompileAhead&) = delete;
  CompileAhead& operator=(const CompileAhead&) = delete;

  /// Compile these next, in this order, in place of the compiles not yet started. A candidate this object
  /// already compiled, or is compiling, is not compiled again; a cuda one waits for set_cuda_arch.
  void want(const std::vector<backends::Candidate>& next);
  /// Before `c` is timed: if it is being compiled, wait for that (its bench then finds it built instead of
  /// compiling it a second time beside it); a compile of it not yet started is dropped (its bench compiles it).
  /// Returns whether it was compiled ahead.
  bool ready(const backends::Candidate& c);
  /// Wait until nothing is queued or being compiled.
  void drain();
  /// How many compiles this object ran (failed ones included).
  int compiled() const;

  /// The CUDA architecture to compile cuda candidates for ("90a"), as the bench's worker reported it: until it
  /// is known, cuda candidates are not compiled ahead: those wanted meanwhile are queued now.
  void set_cuda_arch(const std::string& arch);

  /// What the default Build does: a cpu candidate built by the cpu backend, a cuda one by nvcc for `cuda_arch`
  /// (nothing when it is empty), as their bench would build them; a triton one has nothing to build.
  static Expected<void> build_into_cache(const backends::Candidate& c, const std::string& cuda_arch);

 private:
  void work();

  Build m_build;
  std::filesystem::path m_slot_dir;
  int m_slots;
  mutable std::mutex m_mu;
  std::condition_variable m_changed;
  std::deque<std::pair<std::string, backends::Candidate>> m_queue;    ///< (key, candidate), not started
  std::deque<std::pair<std::string, backends::Candidate>> m_waiting;  ///< cuda ones wanted before the arch
  std::set<std::string> m_running, m_done;                            ///< by key
  int m_compiled = 0;
  std::string m_cuda_arch;
  std::atomic<bool> m_stop{false};
  std::vector<std::thread> m_threads;
};

/// The folder of this host's compile slots in a workspace: <workspace>/.autokernel/compile-slots/<host> (a
/// workspace on a file system several hosts share holds one set per host).
std::filesystem::path compile_slot_dir(const std::filesystem::path& workspace);

/// How many compiles ahead a host runs at once: its cores.
int compile_slot_count();

}  // namespace ak::loop

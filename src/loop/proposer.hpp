// Who writes the next candidate. One interface; implementations registered by name in proposers.cpp.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/candidate.hpp"
#include "loop/results_log.hpp"

namespace ak::loop {

/// What a proposer may know about one kernel.
struct KernelState {
  std::string name;                     ///< workspace name, e.g. rmsnorm_cuda
  backends::Candidate best;             ///< the current best (kept) version
  std::vector<ResultRow> history;       ///< this kernel's rows, oldest first
  std::set<std::string> tried_configs;  ///< knob configurations already measured (config_string)
};

/// The next candidate: the whole new source of the kernel file and one line saying what changed.
struct Proposal {
  std::string source;
  std::string description;
  std::string config;  ///< its knob configuration
};

class Proposer {
 public:
  virtual ~Proposer() = default;
  virtual std::string_view name() const = 0;
  /// The next candidate for `state`, or nullopt when this proposer has nothing left to try.
  std::optional<Proposal> propose(const KernelState& state) { return do_propose(state); }

 private:
  virtual std::optional<Proposal> do_propose(const KernelState& state) = 0;
};

/// "search"; an unknown name lists the known ones.
Expected<std::unique_ptr<Proposer>> make_proposer(std::string_view name, uint64_t seed);

}  // namespace ak::loop

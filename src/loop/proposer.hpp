// Who writes the next candidate. One interface; implementations registered by name in proposers.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/candidate.hpp"
#include "workspace/results_log.hpp"

namespace ak::loop {

/// What a proposer may know about one kernel.
struct KernelState {
  std::string name;                           ///< workspace name, e.g. rmsnorm_cuda
  backends::Candidate best;                   ///< the current best (kept) version
  std::vector<workspace::ResultRow> history;  ///< this kernel's rows, oldest first
  std::set<std::string> tried_configs;        ///< knob configurations already measured (config_string)
  std::filesystem::path workspace;            ///< the run's folder (a git repository)
  std::filesystem::path file;                 ///< the candidate file, relative to the workspace
};

/// The next candidate: the whole new source of the kernel file and one line saying what changed.
/// A proposer that failed to produce one (a hung agent, an unusable LLM reply) sets `failure`: the loop
/// records that as one failed experiment and goes on.
struct Proposal {
  std::string source;
  std::string description;
  std::string config;                  ///< its knob configuration
  std::optional<std::string> failure;  ///< why there is no usable candidate this time
};

/// Settings of the proposers that talk to the outside world (from `autokernel run`).
struct ProposerOptions {
  uint64_t seed = 1;
  std::string agent_cmd;                           ///< agent: the command line, run with sh -c in the workspace
  double agent_timeout_s = 1800;                   ///< agent: a run longer than this is a hang
  std::string llm_endpoint;                        ///< llm: base URL of an OpenAI-compatible API (".../v1")
  std::string llm_model;                           ///< llm: model name
  std::string llm_api_key_env = "OPENAI_API_KEY";  ///< llm: environment variable holding the key
  double llm_timeout_s = 600;                      ///< llm: per request
  int llm_retries = 3;               ///< llm: retries after the first attempt (transport errors, 429, 5xx)
  std::filesystem::path program_md;  ///< the playbook given to agents and LLMs (program.md)
};

class Proposer {
 public:
  virtual ~Proposer() = default;
  virtual std::string_view name() const = 0;
  /// The next candidate for `state`, or nullopt when this proposer has nothing left to try.
  std::optional<Proposal> propose(const KernelState& state) { return do_propose(state); }
  /// The next `n` candidates propose() would give for `state` should none of them be kept (each then tried, its
  /// configuration in tried_configs), without changing what propose() gives: what the loop compiles ahead while
  /// one is timed (loop/compile_ahead). Empty where they cannot be foreseen (an agent's, an LLM's).
  std::vector<Proposal> lookahead(const KernelState& state, int n) const { return do_lookahead(state, n); }

 private:
  virtual std::optional<Proposal> do_propose(const KernelState& state) = 0;
  virtual std::vector<Proposal> do_lookahead(const KernelState& /*state*/, int /*n*/) const { return {}; }
};

/// "search", "agent" or "llm"; an unknown name lists the known ones; a missing setting (agent without
/// --cmd) is an error.
Expected<std::unique_ptr<Proposer>> make_proposer(std::string_view name, const ProposerOptions& options);

/// The implementations, one per file.
std::unique_ptr<Proposer> make_search_proposer(uint64_t seed);
Expected<std::unique_ptr<Proposer>> make_agent_proposer(const ProposerOptions& options);
Expected<std::unique_ptr<Proposer>> make_llm_proposer(const ProposerOptions& options);

}  // namespace ak::loop

// Proposers by name.
#include "loop/proposer.hpp"

namespace ak::loop {

Expected<std::unique_ptr<Proposer>> make_proposer(std::string_view name, const ProposerOptions& options) {
  if (name == "search") return make_search_proposer(options.seed);
  if (name == "agent") return make_agent_proposer(options);
  if (name == "llm") return make_llm_proposer(options);
  return fail(fmt::format("unknown proposer '{}' (known: search, agent, llm)", name));
}

}  // namespace ak::loop

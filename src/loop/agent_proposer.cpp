// agent: any coding-agent command line edits the candidate file. (Being written: see issue 3.)
#include "loop/proposer.hpp"

namespace ak::loop {

Expected<std::unique_ptr<Proposer>> make_agent_proposer(const ProposerOptions&) {
  return fail("the agent proposer is not built yet; use --proposer search");
}

}  // namespace ak::loop

// llm: an OpenAI-compatible chat-completions endpoint writes the candidate. (Being written: see issue 3.)
#include "loop/proposer.hpp"

namespace ak::loop {

Expected<std::unique_ptr<Proposer>> make_llm_proposer(const ProposerOptions&) {
  return fail("the llm proposer is not built yet; use --proposer search");
}

}  // namespace ak::loop

// search: walks the knob space the candidate declares, with no LLM. Greedy local search with random
// restarts (first improvement): try the untried neighbours of the best configuration (one knob moved
// to an adjacent value, then to any other value); once the best has none left, jump to a random
// untried configuration. Kernel Tuner's comparisons found such local searches with restarts among
// the most sample-efficient on GPU knob spaces; every point is measured at most once, across resumes.
#include <algorithm>
#include <random>

#include "loop/proposer.hpp"

namespace ak::loop {
namespace {

class SearchProposer final : public Proposer {
 public:
  explicit SearchProposer(uint64_t seed) : m_rng(seed) {}
  std::string_view name() const override { return "search"; }

 private:
  std::optional<Proposal> do_propose(const KernelState& s) override {
    const auto& knobs = s.best.knobs;
    if (knobs.empty()) return std::nullopt;
    const auto& base = s.best.knob_values;
    // 1. Neighbours: one knob moved one step, nearest steps first.
    std::vector<std::pair<std::map<std::string, std::string>, std::string>> near, far;
    for (const auto& k : knobs) {
      const auto it = std::find(k.values.begin(), k.values.end(), base.at(k.name));
      const auto at = it == k.values.end() ? 0 : it - k.values.begin();
      for (std::size_t i = 0; i < k.values.size(); ++i) {
        if (static_cast<long>(i) == at) continue;
        auto cfg = base;
        cfg[k.name] = k.values[i];
        auto desc = fmt::format("search: {} {} -> {}", k.name, base.at(k.name), k.values[i]);
        (std::labs(static_cast<long>(i) - at) == 1 ? near : far).emplace_back(cfg, desc);
      }
    }
    std::shuffle(near.begin(), near.end(), m_rng);
    std::shuffle(far.begin(), far.end(), m_rng);
    for (auto* list : {&near, &far}) {
      for (const auto& [cfg, desc] : *list) {
        const auto key = backends::config_string(cfg);
        if (!s.tried_configs.contains(key))
          return Proposal{backends::with_knob_defaults(s.best.source, cfg), desc, key, std::nullopt};
      }
    }
    // 2. A random restart: an untried point anywhere (a bounded number of draws, then give up).
    for (int attempt = 0; attempt < 256; ++attempt) {
      std::map<std::string, std::string> cfg;
      for (const auto& k : knobs)
        cfg[k.name] = k.values[std::uniform_int_distribution<std::size_t>(0, k.values.size() - 1)(m_rng)];
      const auto key = backends::config_string(cfg);
      if (!s.tried_configs.contains(key)) {
        return Proposal{backends::with_knob_defaults(s.best.source, cfg), "search: random restart " + key, key,
                        std::nullopt};
      }
    }
    return std::nullopt;
  }

  std::vector<Proposal> do_lookahead(const KernelState& s, int n) const override {
    // A copy walks on from the same random state: its proposals are the ones this proposer will make.
    SearchProposer ahead = *this;
    KernelState state = s;
    std::vector<Proposal> out;
    for (int i = 0; i < n; ++i) {
      auto p = ahead.do_propose(state);
      if (!p) break;
      state.tried_configs.insert(p->config);
      out.push_back(std::move(*p));
    }
    return out;
  }

  std::mt19937_64 m_rng;
};

}  // namespace

std::unique_ptr<Proposer> make_search_proposer(uint64_t seed) { return std::make_unique<SearchProposer>(seed); }

}  // namespace ak::loop

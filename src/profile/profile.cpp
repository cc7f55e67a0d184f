#include "profile/profile.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "catalog/shape.hpp"
#include "profile/op_types.hpp"

namespace ak::profile {
namespace {

constexpr std::size_t k_modules_kept = 4;      // module paths listed per shape
constexpr std::size_t k_gpu_kernels_kept = 3;  // GPU kernel names listed per row

/// What one claiming event (an op call, or a module scope that claims its ops) was given.
struct Unit {
  std::string row;                 ///< the row's name
  std::optional<Classified> what;  ///< supported: type, dims, dtype
  std::string source;              ///< the op, or "<Class> module"
  std::string module;              ///< where in the model
  double time_us = 0;
  std::map<std::string, double> kernels;  ///< GPU kernel name -> time
};

/// The nearest enclosing op of event i (skipping scopes), -1 at the top.
int op_parent(const Trace& t, int i) {
  for (int j = t.cpu[i].parent; j >= 0; j = t.cpu[j].parent) {
    if (t.cpu[j].kind == CpuKind::op) return j;
  }
  return -1;
}

class Attributor {
 public:
  explicit Attributor(const Trace& t)
      : m_t(t), m_scope_class(t.cpu.size()), m_claim(t.cpu.size(), -2), m_defers(t.cpu.size(), false) {
    for (int i = 0; i < static_cast<int>(t.cpu.size()); ++i) {
      if (t.cpu[i].kind == CpuKind::scope && t.cpu[i].name == k_step_scope) m_steps.push_back(i);
    }
    // A module scope around a declared kind (ak.kind) of the same module leaves the claim to it, so the
    // declared type wins over the class-name match, whichever scope the runner opened first; the outer
    // one of the two claims, so a module's call is counted once.
    for (int i = 0; i < static_cast<int>(t.cpu.size()); ++i) {
      const auto& e = t.cpu[i];
      if (e.kind != CpuKind::scope || e.kind_type.empty() || !scope_type(i)) continue;
      for (int j = e.parent; j >= 0; j = t.cpu[j].parent) {
        const auto& a = t.cpu[j];
        if (a.kind == CpuKind::scope && a.kind_type.empty() && !a.module_class.empty() &&
            a.module_path == e.module_path) {
          m_defers[j] = true;
        }
      }
    }
    find_chains();
  }

  /// Chains one kernel type does (op_types' chain_rules), read from the op sequence: the trace has the time
  /// of every op, which ranking needs, and the compiled graph, where the exported package fuses them, is
  /// not run by profile. A top-level head op whose next op in time, on its thread, is the rule's tail type
  /// at the same dims makes one call of the fusion (e.g. a residual add and the RMSNorm of its result).
  void find_chains() {
    const int n = static_cast<int>(m_t.cpu.size());
    for (int i = 0; i < n; ++i) {
      const auto& e = m_t.cpu[i];
      if (e.kind != CpuKind::op) continue;
      for (const auto& rule : chain_rules()) {
        if (std::find(rule.head_ops.begin(), rule.head_ops.end(), e.name) == rule.head_ops.end() || claim(i) != i)
          continue;
        const auto head = rule.head(e);
        if (!head) continue;
        const int next = next_after(i, [](int) { return false; });
        if (next < 0) continue;
        const int key = m_t.cpu[next].kind == CpuKind::scope ? next : claim(next);
        const auto tail = m_t.cpu[key].kind == CpuKind::scope ? scope_type(key) : classify_op(m_t.cpu[key]);
        if (!tail || tail->type != rule.tail || tail->dims != head->dims || tail->dtype != head->dtype) continue;
        if (m_fused.contains(key)) continue;  // one head per tail
        m_chain[i] = key;
        m_fused[key] = {std::string(rule.fused), i};
        break;
      }
    }
    find_epilogues();
    std::fill(m_claim.begin(), m_claim.end(), -2);  // claims made above did not know the chains
  }

  /// The first op or claiming scope on op i's thread after it ends, looking inside scopes that claim nothing and
  /// past the ops `skip_op` names; -1 if none.
  template <typename SkipOp>
  int next_after(int i, SkipOp skip_op) {
    const auto& e = m_t.cpu[i];
    for (int j = i + 1; j < static_cast<int>(m_t.cpu.size()) && m_t.cpu[j].thread == e.thread; ++j) {
      const auto& f = m_t.cpu[j];
      if (f.ts_us < e.end_us() || f.kind == CpuKind::launch) continue;
      if (f.kind == CpuKind::scope && (m_defers[j] || !scope_type(j))) continue;
      if (f.kind == CpuKind::op && skip_op(j)) continue;
      return j;
    }
    return -1;
  }

  /// Epilogues (op_types' epilogue_rules), after the chains, whose adds stay theirs: a top-level head op whose
  /// next op on its thread, past the rule's pass-through ops, is a top-level add at its output shape. The add's
  /// time then goes to the head, whose call is the fused one (e.g. a GEMM and the residual add after it).
  void find_epilogues() {
    const int n = static_cast<int>(m_t.cpu.size());
    auto in = [](const auto& names, std::string_view name) {
      return std::find(names.begin(), names.end(), name) != names.end();
    };
    for (int i = 0; i < n; ++i) {
      const auto& e = m_t.cpu[i];
      if (e.kind != CpuKind::op) continue;
      for (const auto& rule : epilogue_rules()) {
        if (!in(rule.head_ops, e.name) || claim(i) != i) continue;
        const auto head = classify_op(e);
        if (!head || head->type != rule.type) continue;
        // Past a top-level pass-through op and the ops inside it.
        const int next =
            next_after(i, [&](int j) { return op_parent(m_t, j) >= 0 || in(rule.pass_through, m_t.cpu[j].name); });
        if (next < 0 || !in(rule.tail_ops, m_t.cpu[next].name) || claim(next) != next) continue;
        if (m_chain.contains(next) || m_epilogue.contains(i)) continue;  // a chain's head (add_rmsnorm's) stays
        const auto add = classify_add(m_t.cpu[next]);
        if (!add || !rule.fits(*head, *add)) continue;
        m_chain[next] = i;
        m_epilogue[i] = &rule;
        break;
      }
    }
  }

  /// The step scopes; empty when the trace has none (then everything counts, as one step).
  const std::vector<int>& steps() const { return m_steps; }

  bool in_step(int i) const {
    if (m_steps.empty()) return true;
    for (; i >= 0; i = m_t.cpu[i].parent) {
      if (m_t.cpu[i].kind == CpuKind::scope && m_t.cpu[i].name == k_step_scope) return true;
    }
    return false;
  }

  /// The event that owns event i's time: the outermost module or declared-kind scope that claims its ops,
  /// else the outermost supported op, else the outermost op (unsupported). -1: no op encloses it.
  int claim(int i) {
    if (m_claim[i] != -2) return m_claim[i];
    std::vector<int> chain;
    for (int j = i; j >= 0; j = m_t.cpu[j].parent) chain.push_back(j);
    std::reverse(chain.begin(), chain.end());
    int outermost_op = -1, found = -1;
    for (int j : chain) {
      const auto& e = m_t.cpu[j];
      if (e.kind == CpuKind::scope && !m_defers[j] && scope_type(j)) {
        found = j;
        break;
      }
      if (e.kind != CpuKind::op) continue;
      if (outermost_op < 0) outermost_op = j;
      if (!type_of_op(e.name).empty() && classify_op(e)) {
        found = j;
        break;
      }
    }
    int key = found >= 0 ? found : outermost_op;
    if (const auto it = m_chain.find(key); it != m_chain.end()) key = it->second;  // an add fused with its norm
    return m_claim[i] = key;
  }

  const std::optional<Classified>& scope_type(int j) {
    if (!m_scope_class[j].first) m_scope_class[j] = {true, classify_scope(m_t, j)};
    return m_scope_class[j].second;
  }

  /// The innermost module (or declared-kind) scope around event i, as a path (or class, when the trace
  /// has no paths).
  std::string module_of(int i) const {
    for (int j = i; j >= 0; j = m_t.cpu[j].parent) {
      const auto& e = m_t.cpu[j];
      if (e.kind != CpuKind::scope) continue;
      if (!e.module_path.empty() && (!e.module_class.empty() || !e.kind_type.empty())) return e.module_path;
      if (!e.module_class.empty()) return e.module_class;
    }
    return "";
  }

  Unit& unit(int key) {
    auto [it, fresh] = m_units.try_emplace(key);
    if (!fresh) return it->second;
    Unit& u = it->second;
    const auto& e = m_t.cpu[key];
    u.module = module_of(key);
    if (e.kind == CpuKind::scope) {
      u.what = scope_type(key);
      u.source = e.kind_type.empty()
                     ? e.module_class + " module"
                     : fmt::format("ak.kind {}{}", e.kind_type, e.kind_variant.empty() ? "" : ":" + e.kind_variant);
    } else {
      u.source = e.name;
      if (!type_of_op(e.name).empty()) u.what = classify_op(e);
    }
    if (const auto f = m_fused.find(key); u.what && f != m_fused.end()) {
      u.what->type = f->second.type;
      u.source += " + " + m_t.cpu[f->second.head].name;
    }
    if (const auto f = m_epilogue.find(key); u.what && f != m_epilogue.end()) {
      f->second->fold(*u.what);
      u.source += " + aten::add";
    }
    u.row = u.what ? u.what->type : e.name;
    return u;
  }

  Unit& special(std::string_view row) {
    auto [it, fresh] = m_special.try_emplace(std::string(row));
    if (fresh) it->second.row = it->second.source = std::string(row);
    return it->second;
  }

  std::vector<const Unit*> units() const {
    std::vector<const Unit*> out;
    for (const auto& [k, u] : m_units) out.push_back(&u);
    for (const auto& [k, u] : m_special) out.push_back(&u);
    return out;
  }

 private:
  const Trace& m_t;
  std::vector<int> m_steps;
  std::vector<std::pair<bool, std::optional<Classified>>> m_scope_class;
  std::vector<int> m_claim;
  std::vector<bool> m_defers;  ///< module scopes that leave their claim to a declared kind inside them
  std::map<int, int> m_chain;  ///< a chain's head op -> the claim of the tail op that reads its result
  struct Fused {
    std::string type;  ///< the fusion type the tail's row is
    int head;          ///< the op it fuses in
  };
  std::map<int, Fused> m_fused;                   ///< those tail claims -> what they fuse
  std::map<int, const EpilogueRule*> m_epilogue;  ///< head ops whose next add is their epilogue (its m_chain: head)
  std::map<int, Unit> m_units;
  std::map<std::string, Unit> m_special;
};

}  // namespace

Expected<ModelProfile> analyze(const Trace& t, const nlohmann::json& meta) {
  ModelProfile p;
  p.meta = meta;
  p.basis = t.has_gpu() ? "gpu" : "cpu";
  Attributor a(t);
  p.steps = std::max<int>(1, static_cast<int>(a.steps().size()));

  double total = 0;
  if (t.has_gpu()) {
    for (const auto& g : t.gpu) {
      if (g.launch >= 0 && !a.in_step(g.launch)) continue;
      Unit* u = nullptr;
      if (g.launch < 0) {
        u = &a.special(k_unlinked_row);
      } else if (const int key = a.claim(g.launch); key >= 0) {
        u = &a.unit(key);
      } else {
        u = &a.special(k_no_op_row);
      }
      u->time_us += g.dur_us;
      u->kernels[g.name] += g.dur_us;
      total += g.dur_us;
    }
  } else {
    // CPU: each op's self time (its time less that of the ops it called) goes to its claim, so a
    // top-level op's time is split exactly between the supported ops inside it and itself.
    std::vector<double> inner(t.cpu.size(), 0.0);
    for (int i = 0; i < static_cast<int>(t.cpu.size()); ++i) {
      if (t.cpu[i].kind != CpuKind::op) continue;
      if (const int p_op = op_parent(t, i); p_op >= 0) inner[p_op] += t.cpu[i].dur_us;
    }
    for (int i = 0; i < static_cast<int>(t.cpu.size()); ++i) {
      if (t.cpu[i].kind != CpuKind::op || !a.in_step(i)) continue;
      a.unit(a.claim(i)).time_us += t.cpu[i].dur_us - inner[i];
      if (op_parent(t, i) < 0) total += t.cpu[i].dur_us;
    }
  }
  if (total <= 0) {
    return fail(t.has_gpu() ? "the trace has no GPU time inside the profiled steps"
                            : "the trace has no operator calls inside the profiled steps",
                "was the model run under torch.profiler with record_shapes=True?");
  }

  // Rows by name; shapes by (dims, dtype) within a supported row.
  std::map<std::string, KernelUse> rows;
  std::map<std::string, std::map<std::pair<std::vector<int64_t>, std::string>, ShapeUse>> shapes;
  std::map<std::string, std::map<std::string, double>> kernel_names;
  const double steps = p.steps;
  for (const Unit* u : a.units()) {
    auto& r = rows[u->row];
    r.name = u->row;
    r.supported = u->what.has_value();
    r.time_us += u->time_us / steps;
    r.calls += 1.0 / steps;
    if (std::find(r.ops.begin(), r.ops.end(), u->source) == r.ops.end()) r.ops.push_back(u->source);
    for (const auto& [k, us] : u->kernels) kernel_names[u->row][k] += us;
    if (!u->what) continue;
    auto& s = shapes[u->row][{u->what->dims, u->what->dtype}];
    s.dims = u->what->dims;
    s.dtype = u->what->dtype;
    s.note = u->what->note;
    s.time_us += u->time_us / steps;
    s.calls += 1.0 / steps;
    if (!u->module.empty() && s.modules.size() < k_modules_kept &&
        std::find(s.modules.begin(), s.modules.end(), u->module) == s.modules.end()) {
      s.modules.push_back(u->module);
    }
  }
  p.total_us = total / steps;
  for (auto& [name, r] : rows) {
    r.share = r.time_us / p.total_us;
    std::sort(r.ops.begin(), r.ops.end());
    for (auto& [key, s] : shapes[name]) {
      s.share = s.time_us / p.total_us;
      r.shapes.push_back(s);
    }
    std::sort(r.shapes.begin(), r.shapes.end(), [](const auto& x, const auto& y) { return x.time_us > y.time_us; });
    for (std::size_t i = 0; i < r.shapes.size(); ++i) r.shapes[i].label = fmt::format("model_{}", i + 1);
    std::vector<std::pair<double, std::string>> ks;
    for (const auto& [k, us] : kernel_names[name]) ks.push_back({us, k});
    std::sort(ks.rbegin(), ks.rend());
    for (std::size_t i = 0; i < ks.size() && i < k_gpu_kernels_kept; ++i) r.gpu_kernels.push_back(ks[i].second);
    p.kernels.push_back(std::move(r));
  }
  std::sort(p.kernels.begin(), p.kernels.end(), [](const auto& x, const auto& y) { return x.time_us > y.time_us; });
  return p;
}

std::string ranking_table(const ModelProfile& p, int max_rows) {
  auto ms = [](double us) { return us >= 1000 ? fmt::format("{:.2f} ms", us / 1000) : fmt::format("{:.1f} us", us); };
  std::string out = fmt::format("{:>4}  {:<22} {:>7} {:>11} {:>8}  {:<44} {:>9}\n", "rank", "kernel", "share",
                                "time/step", "calls", "model shapes (dtype, calls/step)", "if 2x");
  int rank = 0;
  double rest_share = 0, rest_us = 0;
  int rest = 0;
  for (const auto& k : p.kernels) {
    ++rank;
    if (rank > max_rows) {
      rest_share += k.share;
      rest_us += k.time_us;
      ++rest;
      continue;
    }
    std::string shapes;
    for (std::size_t i = 0; i < k.shapes.size() && i < 2; ++i) {
      shapes += fmt::format("{}{} {} x{:g}", i ? ", " : "", catalog::shape_string(k.shapes[i].dims), k.shapes[i].dtype,
                            k.shapes[i].calls);
    }
    if (k.shapes.size() > 2) shapes += fmt::format(" +{}", k.shapes.size() - 2);
    if (!k.supported) shapes = "(unsupported)";
    out += fmt::format("{:>4}  {:<22} {:>6.1f}% {:>11} {:>8g}  {:<44} {:>8.3f}x\n", rank,
                       k.name.size() > 22 ? k.name.substr(0, 21) + "~" : k.name, 100 * k.share, ms(k.time_us), k.calls,
                       shapes.size() > 44 ? shapes.substr(0, 43) + "~" : shapes, k.speedup_if_2x());
  }
  if (rest > 0) {
    out += fmt::format("{:>4}  {:<22} {:>6.1f}% {:>11}\n", "", fmt::format("({} more rows)", rest), 100 * rest_share,
                       ms(rest_us));
  }
  double supported = 0;
  int n = 0;
  for (const auto* k : p.supported()) {
    supported += k->share;
    ++n;
  }
  const std::string step = p.is_decode() ? "decode step" : "step";
  out += fmt::format(
      "total: {} per {} ({}, {} {}{}); {} supported kernel type{} cover {:.1f}%: "
      "making all of them 2x faster would make the model {:.3f}x faster\n",
      ms(p.total_us), step, p.basis == "gpu" ? "GPU time" : "CPU time of the top-level ops", p.steps, step,
      p.steps == 1 ? "" : "s", n, n == 1 ? "" : "s", 100 * supported, 1.0 / (1.0 - supported / 2.0));
  return out;
}

}  // namespace ak::profile

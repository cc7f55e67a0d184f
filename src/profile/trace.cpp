#include "profile/trace.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "util/fs.hpp"

namespace ak::profile {
namespace {

std::string id_string(const nlohmann::json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

std::string thread_of(const nlohmann::json& e) {
  return id_string(e.value("pid", nlohmann::json(0))) + "/" + id_string(e.value("tid", nlohmann::json(0)));
}

/// Correlation ids are numbers in torch's traces; keep them as text so any JSON value works as a key.
std::string correlation_of(const nlohmann::json& e) {
  const auto args = e.find("args");
  if (args == e.end() || !args->is_object()) return "";
  const auto c = args->find("correlation");
  return c == args->end() ? "" : id_string(*c);
}

/// "ak.module:SwiGLU:layers.0.mlp" or, from a with_stack trace, "nn.Module: SwiGLU_0".
bool parse_module_scope(const std::string& name, std::string& cls, std::string& path) {
  if (name.starts_with(k_module_scope_prefix)) {
    const auto rest = name.substr(k_module_scope_prefix.size());
    const auto colon = rest.find(':');
    cls = rest.substr(0, colon);
    path = colon == std::string::npos ? "" : rest.substr(colon + 1);
    if (path == "<root>") path = "";
    return !cls.empty();
  }
  constexpr std::string_view k_stack_prefix = "nn.Module: ";
  if (name.starts_with(k_stack_prefix)) {
    cls = name.substr(k_stack_prefix.size());
    if (const auto us = cls.rfind('_');
        us != std::string::npos && us + 1 < cls.size() && std::all_of(cls.begin() + us + 1, cls.end(), ::isdigit)) {
      cls.resize(us);  // the instance counter torch appends
    }
    path.clear();
    return !cls.empty();
  }
  return false;
}

/// "ak.kind:rotary_embedding:half:model.layers.0.self_attn" (the path may itself hold colons: the rest is it).
bool parse_kind_scope(const std::string& name, std::string& type, std::string& variant, std::string& path) {
  if (!name.starts_with(k_kind_scope_prefix)) return false;
  const auto rest = name.substr(k_kind_scope_prefix.size());
  const auto c1 = rest.find(':');
  const auto c2 = c1 == std::string::npos ? std::string::npos : rest.find(':', c1 + 1);
  type = rest.substr(0, c1);
  variant =
      c1 == std::string::npos ? "" : rest.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
  path = c2 == std::string::npos ? "" : rest.substr(c2 + 1);
  if (variant == "-") variant.clear();
  if (path == "<root>") path.clear();
  return !type.empty();
}

int kind_order(CpuKind k) { return k == CpuKind::scope ? 0 : k == CpuKind::op ? 1 : 2; }

}  // namespace

Expected<Trace> parse_trace(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return fail(fmt::format("the trace is not valid JSON: {}", e.what()));
  }
  const nlohmann::json* events = nullptr;
  if (doc.is_object() && doc.contains("traceEvents")) {
    events = &doc["traceEvents"];
  } else if (doc.is_array()) {
    events = &doc;  // the bare-array form of the Chrome trace format
  }
  if (!events || !events->is_array()) return fail("the trace has no traceEvents");

  Trace t;
  struct Flow {
    std::string thread;
    double ts = 0;
  };
  std::unordered_map<std::string, Flow> flow_starts;                // ac2g id -> launch side
  std::map<std::pair<std::string, double>, std::string> flow_ends;  // (gpu thread, ts) -> ac2g id
  std::vector<std::string> gpu_correlation;                         // per GPU activity
  std::vector<std::pair<std::string, double>> gpu_where;            // per GPU activity: (stream, ts)
  for (const auto& e : *events) {
    if (!e.is_object()) continue;
    const auto ph = e.value("ph", "");
    const auto cat = e.value("cat", "");
    if (cat == "ac2g" && (ph == "s" || ph == "f")) {
      const auto id = id_string(e.value("id", nlohmann::json()));
      if (ph == "s") {
        flow_starts[id] = {thread_of(e), e.value("ts", 0.0)};
      } else {
        flow_ends[{thread_of(e), e.value("ts", 0.0)}] = id;
      }
      continue;
    }
    if (ph != "X") continue;
    const double ts = e.value("ts", 0.0), dur = e.value("dur", 0.0);
    if (cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset") {
      t.gpu.push_back({e.value("name", ""), cat, ts, dur, -1});
      gpu_correlation.push_back(correlation_of(e));
      gpu_where.push_back({thread_of(e), ts});
      continue;
    }
    CpuEvent c;
    if (cat == "cpu_op") {
      c.kind = CpuKind::op;
    } else if (cat == "user_annotation" || cat == "python_function") {
      c.kind = CpuKind::scope;
    } else if (cat == "cuda_runtime" || cat == "cuda_driver") {
      c.kind = CpuKind::launch;
    } else {
      continue;  // "Trace", "gpu_user_annotation" (a GPU-side copy of a scope), overhead markers...
    }
    c.name = e.value("name", "");
    if (c.kind == CpuKind::scope) {
      const bool module = parse_module_scope(c.name, c.module_class, c.module_path) ||
                          parse_kind_scope(c.name, c.kind_type, c.kind_variant, c.module_path);
      if (cat == "python_function" && !module) continue;  // Python frames other than modules: no use here
    }
    c.thread = thread_of(e);
    c.ts_us = ts;
    c.dur_us = dur;
    if (c.kind == CpuKind::op && e.contains("args")) {
      for (const auto* key : {"Input Dims", "Input type", "Concrete Inputs"}) {
        if (e["args"].contains(key)) c.args[key] = e["args"][key];
      }
    }
    if (c.kind == CpuKind::launch) c.args["correlation"] = correlation_of(e);
    t.cpu.push_back(std::move(c));
  }

  // Nest each thread's events by time: sorted by start, longer first, a scope before the op it encloses.
  std::stable_sort(t.cpu.begin(), t.cpu.end(), [](const CpuEvent& a, const CpuEvent& b) {
    if (a.thread != b.thread) return a.thread < b.thread;
    if (a.ts_us != b.ts_us) return a.ts_us < b.ts_us;
    if (a.dur_us != b.dur_us) return a.dur_us > b.dur_us;
    return kind_order(a.kind) < kind_order(b.kind);
  });
  std::vector<int> stack;
  for (int i = 0; i < static_cast<int>(t.cpu.size()); ++i) {
    auto& e = t.cpu[i];
    if (i > 0 && t.cpu[i - 1].thread != e.thread) stack.clear();
    while (!stack.empty() && e.ts_us >= t.cpu[stack.back()].end_us()) stack.pop_back();
    if (!stack.empty()) {
      e.parent = stack.back();
      t.cpu[stack.back()].children.push_back(i);
    }
    stack.push_back(i);
  }

  // Link each GPU activity to its launch: by correlation id, else through its ac2g flow.
  std::unordered_map<std::string, int> launch_by_correlation;
  std::map<std::pair<std::string, double>, int> launch_by_place;
  for (int i = 0; i < static_cast<int>(t.cpu.size()); ++i) {
    const auto& e = t.cpu[i];
    if (e.kind != CpuKind::launch) continue;
    if (const auto c = e.args.value("correlation", ""); !c.empty()) launch_by_correlation[c] = i;
    launch_by_place[{e.thread, e.ts_us}] = i;
  }
  for (std::size_t g = 0; g < t.gpu.size(); ++g) {
    if (const auto& c = gpu_correlation[g]; !c.empty()) {
      if (auto it = launch_by_correlation.find(c); it != launch_by_correlation.end()) {
        t.gpu[g].launch = it->second;
        continue;
      }
    }
    const auto end = flow_ends.find(gpu_where[g]);
    if (end == flow_ends.end()) continue;
    const auto start = flow_starts.find(end->second);
    if (start == flow_starts.end()) continue;
    if (auto it = launch_by_place.find({start->second.thread, start->second.ts}); it != launch_by_place.end()) {
      t.gpu[g].launch = it->second;
    }
  }
  return t;
}

Expected<Trace> read_trace(const std::filesystem::path& path) {
  auto text = util::read_file(path);
  if (!text) return std::unexpected(text.error());
  auto t = parse_trace(*text);
  if (!t) return std::unexpected(t.error().context(path.string()));
  return t;
}

}  // namespace ak::profile

#include "backends/candidate.hpp"

#include <regex>
#include <sstream>

#include "util/fs.hpp"

namespace ak::backends {
namespace {

const std::map<std::string, std::vector<std::string>> k_dir_files = {
    {"cuda", {"kernel.cu", "cuda.cu"}}, {"triton", {"kernel.py", "triton.py"}}, {"cpu", {"kernel.cpp", "cpu.cpp"}}};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace

Expected<std::string> backend_for_extension(const std::filesystem::path& path) {
  const auto ext = path.extension().string();
  if (ext == ".cu") return std::string("cuda");
  if (ext == ".py") return std::string("triton");
  if (ext == ".cpp" || ext == ".cc" || ext == ".cxx") return std::string("cpu");
  return fail(fmt::format("cannot tell the backend of {} from its extension (.cu, .py or .cpp)", path.string()),
              "pass --backend cuda|triton|cpu");
}

Expected<std::filesystem::path> resolve_kernel_path(const std::filesystem::path& path, const std::string& backend) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return fail(fmt::format("no such kernel file or directory: {}", path.string()));
  }
  if (!std::filesystem::is_directory(path, ec)) return path;
  std::vector<std::filesystem::path> found;
  for (const auto& [b, names] : k_dir_files) {
    if (!backend.empty() && b != backend) continue;
    for (const auto& n : names) {
      if (std::filesystem::exists(path / n, ec)) found.push_back(path / n);
    }
  }
  if (found.size() == 1) return found.front();
  if (found.empty()) {
    return fail(fmt::format("{} holds no candidate{} (kernel.cu, kernel.py, kernel.cpp, cuda.cu, triton.py or cpu.cpp)",
                            path.string(), backend.empty() ? "" : " for backend " + backend));
  }
  std::string names;
  for (const auto& f : found) names += (names.empty() ? "" : ", ") + f.filename().string();
  return fail(fmt::format("{} holds several candidates ({})", path.string(), names), "pass --backend cuda|triton|cpu");
}

Expected<std::vector<Knob>> parse_knobs(const std::string& source) {
  // @knob NAME=default {v1,v2} description
  static const std::regex knob_re(R"(@knob\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^\s{]+)\s*\{([^}]*)\}\s*(.*))");
  std::vector<Knob> knobs;
  std::istringstream in(source);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find("@knob") == std::string::npos) continue;
    std::smatch m;
    if (!std::regex_search(line, m, knob_re)) {
      return fail(
          fmt::format("line {}: malformed @knob (expected `@knob NAME=default {{v1,v2}} description`)", lineno));
    }
    Knob k{m[1], m[2], split_list(m[3]), m[4]};
    if (std::find(k.values.begin(), k.values.end(), k.default_value) == k.values.end()) {
      k.values.insert(k.values.begin(), k.default_value);
    }
    for (const auto& other : knobs) {
      if (other.name == k.name) return fail(fmt::format("line {}: knob {} declared twice", lineno, k.name));
    }
    knobs.push_back(std::move(k));
  }
  return knobs;
}

std::string with_knob_defaults(const std::string& source, const std::map<std::string, std::string>& values) {
  std::string out = source;
  for (const auto& [name, value] : values) {
    // Splice by position: a format string like "$1" + "4" would read as group 14.
    const std::regex re("@knob\\s+" + name + "\\s*=\\s*([^\\s{]+)");
    std::smatch m;
    if (std::regex_search(out, m, re)) out.replace(static_cast<std::size_t>(m.position(1)), m.length(1), value);
  }
  return out;
}

std::string config_string(const std::map<std::string, std::string>& values) {
  std::string s;
  for (const auto& [k, v] : values) s += (s.empty() ? "" : ",") + k + "=" + v;
  return s;
}

Expected<Candidate> parse_candidate(const std::filesystem::path& path, std::string source, const std::string& backend) {
  Candidate c;
  c.path = path;
  c.source = std::move(source);
  if (backend.empty()) {
    auto b = backend_for_extension(c.path);
    if (!b) return std::unexpected(b.error());
    c.backend = *b;
  } else {
    c.backend = backend;
  }
  static const std::regex type_re(R"(@autokernel\s+type\s*=\s*([A-Za-z_][A-Za-z0-9_]*))");
  std::smatch m;
  if (!std::regex_search(c.source, m, type_re)) {
    return fail(fmt::format("{} does not declare its kernel type", c.path.string()),
                "add a comment line `@autokernel type=<type>` (e.g. type=rmsnorm) at the top");
  }
  c.type = m[1];
  auto knobs = parse_knobs(c.source);
  if (!knobs) return std::unexpected(knobs.error().context(c.path.string()));
  c.knobs = std::move(*knobs);
  for (const auto& k : c.knobs) c.knob_values[k.name] = k.default_value;
  return c;
}

Expected<Candidate> load_candidate(const std::filesystem::path& path, const std::string& backend,
                                   const std::map<std::string, std::string>& overrides) {
  auto file = resolve_kernel_path(path, backend);
  if (!file) return std::unexpected(file.error());
  auto source = util::read_file(*file);
  if (!source) return std::unexpected(source.error());
  auto c = parse_candidate(std::filesystem::absolute(*file), std::move(*source), backend);
  if (!c) return c;
  for (const auto& [name, value] : overrides) {
    if (!c->knob_values.contains(name)) {
      std::string known;
      for (const auto& k : c->knobs) known += (known.empty() ? "" : ", ") + k.name;
      return fail(fmt::format("unknown knob '{}' for {} (declared: {})", name, c->path.filename().string(),
                              known.empty() ? "none" : known));
    }
    c->knob_values[name] = value;
  }
  return c;
}

KnobScalar knob_scalar(const std::string& v) {
  try {
    std::size_t used = 0;
    const long long i = std::stoll(v, &used);
    if (used == v.size()) return i;
    const double d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (const std::exception&) {
  }
  if (v == "True" || v == "true") return true;
  if (v == "False" || v == "false") return false;
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
    return v.substr(1, v.size() - 2);
  return v;
}

}  // namespace ak::backends

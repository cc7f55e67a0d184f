// Shared by the tests: where the sources and the built binary are, and a one-call bench.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "harness/bench.hpp"
#include "util/process.hpp"

namespace ak::test {

/// Sets an environment variable for one test (and the processes it starts), and puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : m_name(name) {
    if (const char* old = std::getenv(name)) m_old = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { m_old ? (void)::setenv(m_name, m_old->c_str(), 1) : (void)::unsetenv(m_name); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* m_name;
  std::optional<std::string> m_old;
};

inline std::filesystem::path source_dir() { return AK_SOURCE_DIR; }
inline std::filesystem::path bad_kernel(const std::string& name) {
  return source_dir() / "tests/data/bad_kernels" / name;
}
inline std::filesystem::path starter(const std::string& type, const std::string& file) {
  return source_dir() / "kernels" / type / file;
}

/// Bench through the real autokernel binary's worker, as `autokernel bench` does.
inline harness::BenchReport bench(const std::filesystem::path& kernel, bool timing = false, int case_timeout_s = 120,
                                  const std::string& backend = "") {
  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  harness::BenchRequest req;
  req.kernel_path = kernel.string();
  req.backend = backend;
  req.timing = timing;
  req.case_timeout = std::chrono::seconds(case_timeout_s);
  auto rep = harness::run_bench(req, nullptr);
  if (!rep) throw std::runtime_error(rep.error().message);
  return *rep;
}

/// A bench with no timing that also says, stage by stage, which input layouts its passed cases had (kernel_abi.h's
/// layouts: a case label ends in " bshd", " packed" or " b_kmajor"; contiguous has no suffix).
struct LayoutBench {
  harness::BenchReport report;
  std::map<int, std::set<std::string>> layouts;  // stage -> layouts of its passed cases
};
inline LayoutBench bench_layouts(const std::filesystem::path& kernel,
                                 const std::map<std::string, std::string>& knobs = {}) {
  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  harness::BenchRequest req;
  req.kernel_path = kernel.string();
  req.knobs = knobs;
  req.timing = false;
  req.case_timeout = std::chrono::seconds(300);
  LayoutBench out;
  auto rep = harness::run_bench(req, [&](const nlohmann::json& ev) {
    if (ev.value("event", "") != "case" || ev.value("status", "") != "pass") return;
    const auto label = ev.value("case", "");
    const auto last = label.substr(label.rfind(' ') + 1);
    const bool named = last == "bshd" || last == "packed" || last == "b_kmajor";
    out.layouts[ev.value("stage", 0)].insert(named ? last : "contiguous");
  });
  if (!rep) throw std::runtime_error(rep.error().message);
  out.report = std::move(*rep);
  return out;
}

/// Run the autokernel binary as a user does; stdout and stderr together.
inline util::CommandOutput autokernel(const std::vector<std::string>& args,
                                      std::chrono::minutes limit = std::chrono::minutes(10)) {
  std::vector<std::string> argv = {AK_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = util::run_command(argv, limit);
  if (!r) throw std::runtime_error(r.error().message);
  return *r;
}

/// `git -C dir args...`: its output without the trailing newline; `code` gets the exit code.
inline std::string git(const std::filesystem::path& dir, const std::vector<std::string>& args, int* code = nullptr) {
  std::vector<std::string> argv = {"git", "-C", dir.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = util::run_command(argv, std::chrono::minutes(1));
  if (!r) throw std::runtime_error(r.error().message);
  if (code) *code = r->exit_code;
  auto out = r->output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace ak::test

// agent: any coding-agent command line edits the candidate file. Each experiment writes a prompt file
// (program.md, then this kernel: its source, knobs, last results, roofline position, what was tried),
// runs the command with sh -c in the workspace, and takes the candidate file as the agent left it.
// The agent may edit only that file: whatever else it changed in the workspace (files, git commits,
// branches, tags, .git's config, hooks and HEAD, the run's results.tsv) is put back and named in the
// experiment's description.
#include <algorithm>
#include <deque>
#include <fstream>
#include <map>
#include <set>

#include "backends/candidate.hpp"
#include "workspace/git_repo.hpp"
#include "loop/prompt.hpp"
#include "loop/proposer.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/resources.hpp"

namespace ak::loop {

using workspace::GitRepo;
namespace {

namespace fs = std::filesystem;

constexpr const char* k_scratch_dir = ".autokernel";   // ignored by the workspace's git
constexpr const char* k_results_file = "results.tsv";  // the run's record: git ignores it, so we watch it
constexpr std::string_view k_description_prefix = "DESCRIPTION:";
constexpr std::size_t k_tail_lines = 4;           // of the agent's output, in a failure's message
constexpr std::size_t k_named_paths = 5;          // reverted paths named in a description
constexpr std::size_t k_description_chars = 300;  // it becomes a commit subject and a results.tsv cell

std::string kernel_section(const KernelState& s, const fs::path& ws, double timeout_s) {
  const auto& c = s.best;
  const auto file = ws / s.file;
  std::string out = fmt::format("\n---\n\n# This experiment: kernel `{}`\n\n", s.name);
  out += fmt::format("- type: `{}` (its inputs, outputs and scalars: {}/autokernel/kernel_abi.h)\n", c.type,
                     util::kernel_include_dir().string());
  out += fmt::format("- backend: `{}`\n", c.backend);
  out += fmt::format("- the file to edit: `{}` (absolute: `{}`)\n", s.file.string(), file.string());
  out += fmt::format(
      "- to check an edit yourself (optional; autokernel checks and times it after you exit): "
      "`{} bench --kernel {} --quick`\n",
      util::self_executable(), file.string());

  out += prompt::kernel_facts(s);

  out += fmt::format(
      "\n## Rules\n\n"
      "1. Edit only `{0}`. Any other change in the workspace (other files, git commits, branches, results.tsv) "
      "is reverted and logged; scratch files may go in `.autokernel/`, which is left alone.\n"
      "2. One change per experiment, so that its effect can be measured and attributed.\n"
      "3. Keep the `@autokernel` and `@knob` comment lines well-formed (`@knob NAME=default {{v1,v2}} what`).\n"
      "4. When you are done, print one line saying what you changed as the LAST line of your output, "
      "prefixed `{1}`, e.g. `{1} process two rows per thread block`.\n"
      "5. Finish within {2:.0f} s, or the experiment counts as failed.\n",
      s.file.string(), k_description_prefix, timeout_s);
  return out;
}

/// What the agent printed that we keep: the last description line and the last few lines.
struct AgentRun {
  util::ProcessResult result;
  std::string description;
  std::deque<std::string> tail;
};

/// Run `cmd` with sh -c in the workspace, stdin from /dev/null (an agent waiting for a terminal would
/// otherwise hang until the timeout), stderr merged into stdout, all of it streamed to `log` (so that
/// `tail -f` shows what the agent is doing). When `cmd` ends, the shell stops what it left running in
/// its process group: a leftover would hold the output pipe open (a finished agent taken for a hung
/// one) or edit files after they were checked.
Expected<AgentRun> run_agent(const std::string& cmd, std::vector<std::string> env, double timeout_s,
                             const fs::path& log) {
  util::ProcessOptions opts;
  // An agent may think quietly for a long time: only its whole run is limited.
  const auto limit = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  opts.quiet_limit = limit;
  opts.total_limit = limit;
  opts.extra_env = std::move(env);
  std::ofstream out(log, std::ios::trunc);
  AgentRun run;
  const std::string script = "cd \"$AUTOKERNEL_WORKSPACE\" || exit 125\nexec </dev/null 2>&1\n(\n" + cmd +
                             "\n)\nrc=$?\ntrap '' TERM\nkill -TERM 0 2>/dev/null\nexit $rc\n";
  auto r = util::run_process({"/bin/sh", "-c", script}, opts, [&](const std::string& line) {
    out << line << '\n' << std::flush;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) return;
    if (line.compare(first, k_description_prefix.size(), k_description_prefix) == 0) {
      const auto b = line.find_first_not_of(" \t", first + k_description_prefix.size());
      const auto e = line.find_last_not_of(" \t\r");
      run.description = b == std::string::npos ? "" : line.substr(b, std::min(e - b + 1, k_description_chars));
    }
    run.tail.push_back(line);
    if (run.tail.size() > k_tail_lines) run.tail.pop_front();
  });
  if (!r) return std::unexpected(r.error().context("starting the agent"));
  run.result = *r;
  return run;
}

/// The work tree before the agent ran, to put back what it must not change.
struct Snapshot {
  /// Content (nullopt: absent) of the paths already changed since HEAD, a user's own files that a revert
  /// to HEAD would lose, and of the run's record, which git does not see.
  std::map<std::string, std::optional<std::string>> content;
  /// Files git ignored: one that appears later came from the agent (perhaps hidden by its own .gitignore).
  std::set<std::string> ignored;
};

std::optional<std::string> content_of(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  auto text = util::read_file(p);
  return text ? std::optional(*text) : std::nullopt;
}

bool in_scratch(const std::string& path) { return path.starts_with(std::string(k_scratch_dir) + "/"); }

Expected<Snapshot> snapshot(GitRepo& repo, const fs::path& ws) {
  auto changed = repo.changed_paths();
  if (!changed) return std::unexpected(changed.error());
  auto ignored = repo.ignored_paths();
  if (!ignored) return std::unexpected(ignored.error());
  Snapshot snap;
  for (const auto& p : *changed) snap.content[p] = content_of(ws / p);
  snap.content[k_results_file] = content_of(ws / k_results_file);
  snap.ignored.insert(ignored->begin(), ignored->end());
  return snap;
}

/// Put back every path the agent changed except `candidate` and its scratch folder; returns those paths.
Expected<std::vector<std::string>> revert_outside(GitRepo& repo, const fs::path& ws, const std::string& candidate,
                                                  const Snapshot& before) {
  auto changed = repo.changed_paths();
  if (!changed) return std::unexpected(changed.error());
  auto ignored = repo.ignored_paths();
  if (!ignored) return std::unexpected(ignored.error());
  std::vector<std::string> reverted;
  for (const auto& [path, content] : before.content) {
    if (path == candidate || content_of(ws / path) == content) continue;
    if (content) {
      std::error_code ec;
      fs::create_directories((ws / path).parent_path(), ec);
      if (auto w = util::write_file_atomic(ws / path, *content); !w) return std::unexpected(w.error());
    } else if (auto rm = util::remove_tree(ws / path); !rm) {
      return std::unexpected(rm.error());
    }
    reverted.push_back(path);
  }
  for (const auto& path : *changed) {
    if (path == candidate || before.content.contains(path)) continue;
    if (auto d = repo.discard(path); !d) return std::unexpected(d.error());
    reverted.push_back(path);
  }
  for (const auto& path : *ignored) {
    const bool was_there = before.ignored.contains(path) || before.content.contains(path);
    if (path == candidate || in_scratch(path) || was_there) continue;
    if (auto rm = util::remove_tree(ws / path); !rm) return std::unexpected(rm.error());
    reverted.push_back(path);
  }
  std::sort(reverted.begin(), reverted.end());
  return reverted;
}

/// What an agent may change under .git that would change how our own git commands behave or what they
/// run: HEAD, the config, hooks and info/ (exclude, attributes). Content and permissions (a hook's x bit)
/// of each file, by its path in the workspace; refs are compared through git.
struct GitFile {
  std::string content;
  fs::perms perms;
  bool operator==(const GitFile&) const = default;
};
using GitFiles = std::map<std::string, GitFile>;

GitFiles git_files(const fs::path& ws) {
  GitFiles files;
  std::error_code ec;
  const auto add = [&](const fs::path& p) {
    if (!fs::is_regular_file(p, ec)) return;
    if (auto text = util::read_file(p)) {
      files[fs::relative(p, ws, ec).generic_string()] = {*text, fs::status(p, ec).permissions()};
    }
  };
  add(ws / ".git/HEAD");
  add(ws / ".git/config");
  for (const auto* dir : {".git/hooks", ".git/info"}) {
    for (auto it = fs::recursive_directory_iterator(ws / dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      add(it->path());
    }
  }
  return files;
}

/// Put back .git's files as `before` had them; returns the paths that changed. Runs before any git
/// command after the agent: a config or HEAD it broke would otherwise break those.
Expected<std::vector<std::string>> restore_git_files(const fs::path& ws, const GitFiles& before) {
  std::vector<std::string> restored;
  const auto now = git_files(ws);
  for (const auto& [path, file] : now) {
    if (before.contains(path)) continue;
    if (auto rm = util::remove_tree(ws / path); !rm) return std::unexpected(rm.error());
    restored.push_back(path);
  }
  for (const auto& [path, file] : before) {
    if (auto it = now.find(path); it != now.end() && it->second == file) continue;
    std::error_code ec;
    fs::create_directories((ws / path).parent_path(), ec);
    if (auto w = util::write_file_atomic(ws / path, file.content); !w) return std::unexpected(w.error());
    fs::permissions(ws / path, file.perms, ec);
    restored.push_back(path);
  }
  return restored;
}

/// Put back every ref (other branches, tags) the agent moved, made or deleted; returns their names.
Expected<std::vector<std::string>> restore_refs(GitRepo& repo, const std::map<std::string, std::string>& before) {
  auto now = repo.refs();
  if (!now) return std::unexpected(now.error());
  std::vector<std::string> restored;
  for (const auto& [ref, object] : *now) {
    if (before.contains(ref)) continue;
    if (auto r = repo.set_ref(ref, ""); !r) return std::unexpected(r.error());
    restored.push_back(ref);
  }
  for (const auto& [ref, object] : before) {
    if (auto it = now->find(ref); it != now->end() && it->second == object) continue;
    if (auto r = repo.set_ref(ref, object); !r) return std::unexpected(r.error());
    restored.push_back(ref);
  }
  return restored;
}

/// The knob configuration a source declares ("" when its knob lines do not parse: the bench says why).
std::string knob_config(const std::string& source) {
  auto knobs = backends::parse_knobs(source);
  if (!knobs) return "";
  std::map<std::string, std::string> values;
  for (const auto& k : *knobs) values[k.name] = k.default_value;
  return backends::config_string(values);
}

std::string reverted_note(const std::vector<std::string>& paths, bool head_moved) {
  std::string note;
  if (head_moved) note += "; undid the agent's git commits or branch switch";
  if (paths.empty()) return note;
  note += "; reverted edits outside the candidate: ";
  for (std::size_t i = 0; i < std::min(paths.size(), k_named_paths); ++i) note += (i ? ", " : "") + paths[i];
  if (paths.size() > k_named_paths) note += fmt::format(" and {} more", paths.size() - k_named_paths);
  return note;
}

class AgentProposer final : public Proposer {
 public:
  explicit AgentProposer(ProposerOptions options) : m_options(std::move(options)) {}
  std::string_view name() const override { return "agent"; }

 private:
  std::optional<Proposal> do_propose(const KernelState& s) override {
    const auto ws = fs::absolute(s.workspace);
    const auto file = ws / s.file;
    const auto candidate = s.file.generic_string();
    GitRepo repo(ws);
    auto failed = [&](std::string why, std::string description = "agent") {
      (void)repo.discard(candidate);
      return Proposal{"", std::move(description), "", std::move(why)};
    };

    auto branch = repo.current_branch();
    auto head = repo.rev_parse("HEAD");
    auto before = snapshot(repo, ws);
    auto refs_before = repo.refs();
    if (!branch || !head || !before || !refs_before) {
      const auto& e = !branch ? branch.error() : !head ? head.error() : !before ? before.error() : refs_before.error();
      return failed("reading the workspace before the agent: " + e.message);
    }
    const auto git_before = git_files(ws);
    const auto scratch = ws / k_scratch_dir;
    const auto prompt = scratch / "prompt.md";
    std::error_code ec;
    fs::create_directories(scratch, ec);
    const auto text = program_text() + kernel_section(s, ws, m_options.agent_timeout_s);
    if (auto w = util::write_file_atomic(prompt, text); !w) return failed(w.error().message);

    auto run = run_agent(m_options.agent_cmd,
                         {"AUTOKERNEL_PROMPT=" + prompt.string(), "AUTOKERNEL_KERNEL_FILE=" + file.string(),
                          "AUTOKERNEL_KERNEL_TYPE=" + s.best.type, "AUTOKERNEL_WORKSPACE=" + ws.string()},
                         m_options.agent_timeout_s, scratch / "agent.log");

    // Whatever the agent did, the repository goes back to where the loop left it; only the candidate's
    // edit may stay. .git's own files first: every git command below depends on them.
    auto git_restored = restore_git_files(ws, git_before);
    if (!git_restored) return failed("restoring the workspace's .git: " + git_restored.error().message);
    bool head_moved = std::erase(*git_restored, std::string(".git/HEAD")) > 0;  // a branch switch: said below
    auto head_after = repo.rev_parse("HEAD");
    auto branch_after = repo.current_branch();
    head_moved = head_moved || !head_after || *head_after != *head || !branch_after || *branch_after != *branch;
    if (auto r = repo.restore_head(*branch, *head); !r) {
      return failed("restoring the workspace's git state: " + r.error().message);
    }
    auto refs_restored = restore_refs(repo, *refs_before);
    if (!refs_restored) return failed("restoring the workspace's git refs: " + refs_restored.error().message);
    auto reverted = revert_outside(repo, ws, candidate, *before);
    if (!reverted) return failed("reverting the agent's edits outside the candidate: " + reverted.error().message);
    reverted->insert(reverted->end(), git_restored->begin(), git_restored->end());
    reverted->insert(reverted->end(), refs_restored->begin(), refs_restored->end());
    std::sort(reverted->begin(), reverted->end());
    const auto note = reverted_note(*reverted, head_moved);

    if (!run) return failed(run.error().message);
    const auto description = (run->description.empty() ? std::string("agent edit") : run->description) + note;
    const auto& result = run->result;
    if (result.timed_out) {
      return failed(fmt::format("the agent did not finish within {:g} s", m_options.agent_timeout_s), description);
    }
    if (result.signaled || result.exit_code != 0) {
      std::string tail;
      for (const auto& l : run->tail) tail += (tail.empty() ? "" : " | ") + l;
      const auto how = result.signaled ? fmt::format("was killed by signal {}", result.signal)
                                       : fmt::format("exited with code {}", result.exit_code);
      return failed(fmt::format("the agent {}{}{}", how, tail.empty() ? "" : ": ", tail), description);
    }
    auto source = content_of(file);
    if (!source) return failed("the agent deleted the candidate", description);
    if (*source == s.best.source) return failed("the agent made no change to the candidate", description);
    auto config = knob_config(*source);
    return Proposal{std::move(*source), description, std::move(config), std::nullopt};
  }

  std::string program_text() const {
    auto text = m_options.program_md.empty() ? std::optional<std::string>() : content_of(m_options.program_md);
    return text ? *text : std::string(prompt::fallback_playbook());
  }

  ProposerOptions m_options;
};

}  // namespace

Expected<std::unique_ptr<Proposer>> make_agent_proposer(const ProposerOptions& options) {
  if (options.agent_cmd.empty()) {
    return fail("the agent proposer needs --cmd \"<command line>\"",
                "the command runs with sh -c in the workspace; $AUTOKERNEL_PROMPT names the prompt file, "
                "$AUTOKERNEL_KERNEL_FILE the file to edit");
  }
  if (options.agent_timeout_s <= 0) return fail("--agent-timeout must be a positive number of seconds");
  return std::unique_ptr<Proposer>(std::make_unique<AgentProposer>(options));
}

}  // namespace ak::loop

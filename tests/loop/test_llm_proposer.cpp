// The llm proposer against a scripted chat-completions server on 127.0.0.1 (tests/data/llm/
// fake_chat_server.py): in process for what each kind of reply turns into, and through the autokernel
// binary for how the loop records it. Nothing leaves the machine.
#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "backends/candidate.hpp"
#include "loop/proposer.hpp"
#include "workspace/results_log.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/text.hpp"

extern char** environ;

namespace ak {
namespace {

using nlohmann::json;

#ifdef AK_HAVE_CURL
#define SKIP_WITHOUT_CURL() (void)0
#else
#define SKIP_WITHOUT_CURL() GTEST_SKIP() << "built without libcurl: no llm proposer"
#endif

const std::filesystem::path k_rms = test::source_dir() / "tests/data/loop_kernels/rmsnorm_repeat.cpp";
const std::filesystem::path k_server = test::source_dir() / "tests/data/llm/fake_chat_server.py";

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("ak_llm_" + name);
  (void)util::remove_tree(dir);
  return dir;
}

/// The rmsnorm test kernel with some knob defaults changed: the kind of edit a model returns.
std::string rms_with(const std::map<std::string, std::string>& knobs) {
  return backends::with_knob_defaults(*util::read_file(k_rms), knobs);
}

std::string good_reply(const std::string& description, const std::string& source) {
  return fmt::format("DESCRIPTION: {}\n\nThe new file:\n\n```cpp\n{}```\n", description, source);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// fake_chat_server.py on a free port, serving `replies`; killed when this goes out of scope.
class FakeChatServer {
 public:
  FakeChatServer(const json& replies, const std::string& name) : m_dir(fresh_dir("server_" + name)) {
    std::filesystem::create_directories(m_dir);
    if (!util::write_file_atomic(m_dir / "replies.json", replies.dump()))
      throw std::runtime_error("cannot write replies");
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::vector<std::string> args = {"python3", k_server.string(), (m_dir / "replies.json").string(),
                                     (m_dir / "requests.jsonl").string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawnp(&m_pid, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    // Its first stdout line is the port it bound.
    std::string line;
    pollfd pfd{out[0], POLLIN, 0};
    char c = 0;
    while (rc == 0 && ::poll(&pfd, 1, 20000) > 0 && ::read(out[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(out[0]);
    m_port = line.empty() ? 0 : std::atoi(line.c_str());
    if (m_port <= 0) {
      stop();
      throw std::runtime_error("the fake chat server did not start (is python3 on PATH?)");
    }
  }
  ~FakeChatServer() { stop(); }
  FakeChatServer(const FakeChatServer&) = delete;
  FakeChatServer& operator=(const FakeChatServer&) = delete;

  std::string endpoint() const { return fmt::format("http://127.0.0.1:{}/v1", m_port); }

  /// Every request it received, in order: {"path", "headers", "body"}.
  std::vector<json> requests() const {
    std::vector<json> out;
    auto text = util::read_file(m_dir / "requests.jsonl");
    if (!text) return out;
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) out.push_back(json::parse(line));
    }
    return out;
  }

 private:
  void stop() {
    if (m_pid > 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
      m_pid = -1;
    }
  }

  std::filesystem::path m_dir;
  pid_t m_pid = -1;
  int m_port = 0;
};

/// The state the loop would hand over after a baseline and one reverted experiment.
loop::KernelState rms_state() {
  loop::KernelState s;
  s.name = "rmsnorm_cpu";
  s.best = *backends::load_candidate(k_rms, "");
  s.file = "kernels/rmsnorm_cpu/kernel.cpp";
  workspace::ResultRow base, reverted;
  base.experiment = 0;
  base.status = workspace::Status::baseline;
  base.latency_us = 812.5;
  base.speedup_vs_reference = 0.25;
  base.description = "the starter";
  reverted.experiment = 1;
  reverted.status = workspace::Status::reverted;
  reverted.latency_us = 815;
  reverted.description = "unrolled the inner loop by 4";
  s.history = {base, reverted};
  s.tried_configs = {"REPEAT=8,UNROLL=1", "REPEAT=8,UNROLL=4"};
  return s;
}

loop::ProposerOptions options_for(const std::string& endpoint) {
  loop::ProposerOptions o;
  o.llm_endpoint = endpoint;
  o.llm_model = "test-model";
  o.llm_api_key_env = "AK_TEST_LLM_KEY_UNSET";
  o.llm_retries = 2;
  o.llm_timeout_s = 30;
  return o;
}

std::unique_ptr<loop::Proposer> make(const loop::ProposerOptions& o) {
  auto p = loop::make_llm_proposer(o);
  if (!p) throw std::runtime_error(p.error().message);
  return std::move(*p);
}

TEST(LlmProposer, MissingEndpointOrModelIsAClearError) {
  SKIP_WITHOUT_CURL();
  auto o = options_for("");
  auto p = loop::make_llm_proposer(o);
  ASSERT_FALSE(p);
  EXPECT_TRUE(contains(p.error().message, "needs --endpoint")) << p.error().message;
  EXPECT_TRUE(contains(p.error().hint, "http://")) << p.error().hint;
  o = options_for("http://127.0.0.1:9/v1");
  o.llm_model.clear();
  p = loop::make_llm_proposer(o);
  ASSERT_FALSE(p);
  EXPECT_TRUE(contains(p.error().message, "needs --model")) << p.error().message;
  // Through the binary: bad input, exit code 2, one error line and a hint.
  const auto ws = fresh_dir("ws_no_endpoint");
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms.string(), "--proposer", "llm",
                                   "--model", "m", "--max-experiments", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "autokernel: error: the llm proposer needs --endpoint")) << r.output;
  EXPECT_TRUE(contains(r.output, "hint: ")) << r.output;
}

TEST(LlmProposer, TheLastCodeBlockOfAReplyBecomesTheCandidate) {
  SKIP_WITHOUT_CURL();
  const auto source = rms_with({{"REPEAT", "1"}});
  // A decoy block first (models quote the old code), the answer last, the description in markdown bold.
  const auto content = fmt::format(
      "**DESCRIPTION:** compute each row once\n\nYou had:\n```\nfor (int rep = 0; ...)\n```\n"
      "Now:\n```cpp\n{}```\nThat should help.",
      source);
  FakeChatServer server(json::array({{{"content", content}}}), "good");
  const auto dir = fresh_dir("program");
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(util::write_file_atomic(dir / "program.md", "PLAYBOOK: make it fast, keep it right\n"));
  auto o = options_for(server.endpoint() + "/");  // a trailing slash names the same API
  o.program_md = dir / "program.md";
  const auto state = rms_state();
  const auto proposal = make(o)->propose(state);

  ASSERT_TRUE(proposal);
  ASSERT_FALSE(proposal->failure) << *proposal->failure;
  EXPECT_EQ(proposal->source, source);
  EXPECT_EQ(proposal->description, "compute each row once");
  EXPECT_EQ(proposal->config, "REPEAT=1,UNROLL=1");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["path"], "/v1/chat/completions");
  EXPECT_FALSE(requests[0]["headers"].contains("authorization"));  // no key in the environment: none sent
  const auto& body = requests[0]["body"];
  EXPECT_EQ(body["model"], "test-model");
  EXPECT_EQ(body["temperature"], 0.7);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][0]["content"], "PLAYBOOK: make it fast, keep it right\n");
  EXPECT_EQ(body["messages"][1]["role"], "user");
  const std::string user = body["messages"][1]["content"];
  EXPECT_TRUE(contains(user, "# Kernel `rmsnorm_cpu` (type rmsnorm, backend cpu)")) << user;
  EXPECT_TRUE(contains(user, "```cpp\n" + state.best.source)) << user;
  EXPECT_TRUE(contains(user, "| REPEAT | 8 | 1, 2, 4, 8 | times each row is computed |")) << user;
  EXPECT_TRUE(
      contains(user, "| experiment | status | latency_us | speedup_vs_reference | pct_of_ceiling | description |"))
      << user;
  EXPECT_TRUE(contains(user, "| 0 | baseline | 812.50 | 0.250 | 0.0 | the starter |")) << user;
  EXPECT_TRUE(contains(user, "| 1 | reverted | 815.00 | 0.000 | 0.0 | unrolled the inner loop by 4 |")) << user;
  EXPECT_TRUE(contains(user, "REPEAT=8,UNROLL=4")) << user;
  EXPECT_TRUE(contains(user, "ONE fenced code block holding the complete new file")) << user;
  EXPECT_TRUE(contains(user, "DESCRIPTION:")) << user;
}

TEST(LlmProposer, AnUnusableReplyIsAFailedProposalNotAnError) {
  SKIP_WITHOUT_CURL();
  const auto unchanged = *util::read_file(k_rms);
  auto wrong_type = rms_with({{"REPEAT", "1"}});
  wrong_type.replace(wrong_type.find("type=rmsnorm"), 12, "type=softmax");
  const json replies = json::array({
      {{"content", "DESCRIPTION: a thought\nI would unroll the loop, but I will not write the code."}},
      {{"content", good_reply("softmax now", wrong_type)}},
      {{"content", "DESCRIPTION: cut off\n```cpp\n// @autokernel type=rmsnorm\nextern \"C\" int ak_ker"}},
      {{"content", good_reply("nothing", unchanged)}},
      {{"raw", "<html>gateway says hello</html>"}},
      {{"status", 401}, {"body", R"({"error": {"message": "Incorrect API key provided"}})"}},
  });
  FakeChatServer server(replies, "bad");
  auto proposer = make(options_for(server.endpoint()));
  const auto state = rms_state();
  const std::vector<std::string> expected = {
      "no complete fenced code block",
      "declares type=softmax, not rmsnorm",
      "no complete fenced code block",
      "the current version unchanged",
      "not JSON",
      "HTTP 401: Incorrect API key provided",
  };
  for (const auto& why : expected) {
    const auto p = proposer->propose(state);
    ASSERT_TRUE(p) << why;
    ASSERT_TRUE(p->failure) << why;
    EXPECT_TRUE(contains(*p->failure, why)) << *p->failure;
    EXPECT_TRUE(p->source.empty());
  }
  EXPECT_EQ(server.requests().size(), expected.size());  // a 401 is not retried
}

TEST(LlmProposer, TransportErrors429And5xxAreRetriedThenGiveUpNamingTheEndpoint) {
  SKIP_WITHOUT_CURL();
  const auto source = rms_with({{"REPEAT", "2"}});
  {  // A 500 and a 429 pass: the third attempt succeeds with the same request.
    FakeChatServer server(json::array({{{"status", 500}, {"body", "busy"}},
                                       {{"status", 429}, {"body", R"({"error": {"message": "slow down"}})"}},
                                       {{"content", good_reply("two repeats", source)}}}),
                          "retry");
    const auto p = make(options_for(server.endpoint()))->propose(rms_state());
    ASSERT_TRUE(p && !p->failure) << (p && p->failure ? *p->failure : "");
    EXPECT_EQ(p->source, source);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(requests[2]["body"], requests[0]["body"]);
  }
  {  // Retries spent on 5xx: the failure says where and what.
    FakeChatServer server(json::array({{{"status", 503}, {"body", "down"}}, {{"status", 502}, {"body", "still down"}}}),
                          "giveup");
    auto o = options_for(server.endpoint());
    o.llm_retries = 1;
    const auto p = make(o)->propose(rms_state());
    ASSERT_TRUE(p && p->failure);
    EXPECT_TRUE(contains(*p->failure, server.endpoint() + "/chat/completions")) << *p->failure;
    EXPECT_TRUE(contains(*p->failure, "2 attempts")) << *p->failure;
    EXPECT_TRUE(contains(*p->failure, "HTTP 502: still down")) << *p->failure;
  }
  {  // Nobody listening: a port we bound and released.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    ::close(fd);
    const auto endpoint = fmt::format("http://127.0.0.1:{}/v1", ntohs(addr.sin_port));
    auto o = options_for(endpoint);
    o.llm_retries = 1;
    const auto p = make(o)->propose(rms_state());
    ASSERT_TRUE(p && p->failure);
    EXPECT_TRUE(contains(*p->failure, endpoint + "/chat/completions failed (2 attempts)")) << *p->failure;
  }
  {  // A server slower than the timeout.
    FakeChatServer server(json::array({{{"content", good_reply("late", source)}, {"delay", 5}}}), "slow");
    auto o = options_for(server.endpoint());
    o.llm_timeout_s = 0.5;
    o.llm_retries = 0;
    const auto start = std::chrono::steady_clock::now();
    const auto p = make(o)->propose(rms_state());
    ASSERT_TRUE(p && p->failure);
    EXPECT_TRUE(contains(*p->failure, "timed out")) << *p->failure;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  }
}

TEST(LlmProposer, TheLoopKeepsAGoodReplyRecordsABadOneAndRetriesA500) {
  SKIP_WITHOUT_CURL();
  const auto once = rms_with({{"REPEAT", "1"}});
  const auto unrolled = rms_with({{"REPEAT", "1"}, {"UNROLL", "2"}});
  FakeChatServer server(json::array({{{"content", good_reply("compute each row once", once)}},
                                     {{"content", "I cannot improve this kernel further."}},
                                     {{"status", 500}, {"body", "overloaded"}},
                                     {{"content", good_reply("unroll by two", unrolled)}}}),
                        "loop");
  const auto ws = fresh_dir("ws_loop");
  const auto r = [&] {
    const test::ScopedEnv key("AK_TEST_LLM_KEY", "sk-test-123");
    return test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms.string(), "--proposer", "llm",
                             "--endpoint", server.endpoint(), "--model", "test-model", "--api-key-env",
                             "AK_TEST_LLM_KEY", "--max-experiments", "4", "--tag", "llm"});
  }();
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const auto rows = *workspace::ResultsLog(ws / "results.tsv").read();
  ASSERT_EQ(rows.size(), 4u) << r.output;
  EXPECT_EQ(rows[0].status, workspace::Status::baseline);
  EXPECT_EQ(rows[1].status, workspace::Status::kept) << r.output;  // 8 times less work
  EXPECT_EQ(rows[1].description, "compute each row once");
  EXPECT_EQ(rows[1].config, "REPEAT=1,UNROLL=1");
  EXPECT_EQ(rows[2].status, workspace::Status::proposer_failed);
  EXPECT_TRUE(contains(rows[2].description, "no complete fenced code block")) << rows[2].description;
  // The 500 was retried: the experiment ran on the next reply.
  EXPECT_TRUE(rows[3].status == workspace::Status::kept || rows[3].status == workspace::Status::reverted)
      << rows[3].status;
  EXPECT_EQ(rows[3].description, "unroll by two");
  EXPECT_EQ(rows[3].config, "REPEAT=1,UNROLL=2");
  EXPECT_TRUE(contains(*util::read_file(ws / "kernels/rmsnorm_cpu/kernel.cpp"), "@knob REPEAT=1 "));

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (const auto& q : requests) {
    EXPECT_EQ(q["headers"].value("authorization", ""), "Bearer sk-test-123");
    EXPECT_EQ(q["body"]["model"], "test-model");
  }
  const std::string first = requests[0]["body"]["messages"][1]["content"];
  EXPECT_TRUE(contains(first, "@knob REPEAT=8 ")) << first;
  EXPECT_TRUE(contains(first, "| baseline |")) << first;
  // The next request shows the kept version and the history so far.
  const std::string second = requests[1]["body"]["messages"][1]["content"];
  EXPECT_TRUE(contains(second, "@knob REPEAT=1 ")) << second;
  EXPECT_TRUE(contains(second, "| 1 | kept |")) << second;
  EXPECT_TRUE(contains(second, "compute each row once")) << second;
  const std::string third = requests[2]["body"]["messages"][1]["content"];
  EXPECT_TRUE(contains(third, "| 2 | proposer_failed |")) << third;
  EXPECT_EQ(requests[3]["body"], requests[2]["body"]);  // the retry resends the same request
}

TEST(LlmProposer, AReplyOfRawBytesIsOneReadableFailedRowAndLaterRunsStillWork) {
  SKIP_WITHOUT_CURL();
  // NUL, 0xFF, a lone continuation byte, a truncated sequence: nothing of it is UTF-8, let alone JSON.
  const auto once = rms_with({{"REPEAT", "1"}});
  FakeChatServer server(json::array({{{"raw_hex", "00ff80c328e282"}},
                                     {{"content", good_reply("compute each row once", once)}},
                                     {{"content", good_reply("again", once)}}}),
                        "bytes");
  const auto ws = fresh_dir("ws_bytes");
  auto run = [&](int experiments) {
    return test::autokernel({"run", "--workspace", ws.string(), "--kernel", k_rms.string(), "--proposer", "llm",
                             "--endpoint", server.endpoint(), "--model", "m", "--llm-retries", "0",
                             "--proposer-backoff", "0", "--max-experiments", std::to_string(experiments)});
  };
  auto r = run(3);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = *workspace::ResultsLog(ws / "results.tsv").read();
  ASSERT_EQ(rows.size(), 3u) << r.output;
  EXPECT_EQ(rows[1].status, workspace::Status::proposer_failed);
  EXPECT_TRUE(contains(rows[1].description, "the reply is not JSON")) << rows[1].description;
  EXPECT_EQ(util::valid_utf8(rows[1].description), rows[1].description) << "raw bytes reached results.tsv";
  EXPECT_FALSE(contains(rows[1].description, std::string(1, '\0')));
  EXPECT_EQ(rows[2].description, "compute each row once") << r.output;
  // The failed row is in the next prompt's history, readable; and a later run on the workspace works.
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_TRUE(contains(requests[1]["body"]["messages"][1]["content"].get<std::string>(), "| 1 | proposer_failed |"));
  r = run(1);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(workspace::ResultsLog(ws / "results.tsv").read()->size(), 4u) << r.output;
}

TEST(Text, ValidUtf8KeepsGoodTextAndReplacesEveryBadByte) {
  EXPECT_EQ(util::valid_utf8("plain, \xC3\xA9t\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80\ttab\nline"),
            "plain, \xC3\xA9t\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80\ttab\nline");
  const std::string bad(
      "a\x00"
      "b\xFF\x80\xC0\xAF\xED\xA0\x80\xF4\x90\x80\x80\xE2\x82",
      16);
  const auto out = util::valid_utf8(bad);
  EXPECT_EQ(out.find('\0'), std::string::npos);
  EXPECT_TRUE(out.starts_with("a b\xEF\xBF\xBD")) << out;
  // Every byte of an overlong form, a surrogate, a code point past U+10FFFF or a truncated sequence is one U+FFFD.
  std::size_t replacements = 0;
  for (std::size_t p = out.find("\xEF\xBF\xBD"); p != std::string::npos; p = out.find("\xEF\xBF\xBD", p + 3)) {
    ++replacements;
  }
  EXPECT_EQ(replacements, 13u) << out;
  EXPECT_NO_THROW((void)nlohmann::json(out).dump());
}

}  // namespace
}  // namespace ak

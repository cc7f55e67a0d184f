// llm: an OpenAI-compatible chat-completions API writes the candidate. One request per proposal: the
// playbook (program.md) as the system message; the kernel, its history and what was tried as the user
// message. The last fenced code block of the reply is the new file. A reply we cannot use (no code, the
// wrong kernel type, an HTTP error that outlived the retries) is one failed experiment, never an error of
// the run: models wander and servers hiccup, and the loop should go on.
#include "loop/prompt.hpp"
#include "loop/proposer.hpp"

#ifdef AK_HAVE_CURL

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <regex>
#include <string_view>
#include <thread>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "util/fs.hpp"
#include "util/text.hpp"

namespace ak::loop {
namespace {

using nlohmann::json;

constexpr std::size_t k_description_max = 200;

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto end = text.find('\n');
    auto line = text.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::string_view trim(std::string_view s, std::string_view chars = " \t") {
  const auto b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(chars) - b + 1);
}

/// How many backticks open `line` as a code fence (0: it does not).
std::size_t fence_length(std::string_view line) {
  const auto t = trim(line);
  const auto n = std::min(t.find_first_not_of('`'), t.size());
  return n >= 3 ? n : 0;
}

/// Calls `on_line(line, inside)` for every line of a markdown text but the fences themselves, and returns
/// the bodies of the complete fenced blocks in order. A fence closes on a line of at least as many
/// backticks and nothing else, so ``` inside a ```` block stays content.
std::vector<std::string> walk_markdown(std::string_view text,
                                       const std::function<void(std::string_view, bool)>& on_line = {}) {
  std::vector<std::string> blocks;
  std::string body;
  std::size_t open = 0;  // the open fence's length; 0 outside a block
  for (const auto line : split_lines(text)) {
    const auto n = fence_length(line);
    if (open == 0 && n > 0) {
      open = n;
      body.clear();
    } else if (open > 0 && n >= open && trim(line).size() == n) {
      blocks.push_back(body);
      open = 0;
    } else {
      if (open > 0) body.append(line).push_back('\n');
      if (on_line) on_line(line, open > 0);
    }
  }
  return blocks;
}

/// The body of the reply's last complete fenced block: models often quote the old code or a snippet
/// first and give the answer last.
std::optional<std::string> extract_code_block(std::string_view reply) {
  auto blocks = walk_markdown(reply);
  if (blocks.empty()) return std::nullopt;
  return std::move(blocks.back());
}

/// The `DESCRIPTION:` line outside the code blocks (markdown emphasis around it tolerated), or "llm edit".
std::string extract_description(std::string_view reply) {
  std::string found;
  walk_markdown(reply, [&](std::string_view line, bool inside) {
    if (inside || !found.empty()) return;
    const auto t = trim(line, " \t*_`#>");
    constexpr std::string_view key = "description:";
    if (t.size() < key.size()) return;
    for (std::size_t i = 0; i < key.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(t[i])) != key[i]) return;
    }
    found = trim(t.substr(key.size()), " \t*_`");
  });
  if (found.empty()) return "llm edit";
  return found.substr(0, k_description_max);
}

/// The kernel type a source declares, as load_candidate reads it ("" if none).
std::string declared_type(const std::string& source) {
  static const std::regex type_re(R"(@autokernel\s+type\s*=\s*([A-Za-z_][A-Za-z0-9_]*))");
  std::smatch m;
  return std::regex_search(source, m, type_re) ? m[1].str() : "";
}

/// The user message: everything the model needs to write the next version, and the reply format.
std::string build_user_message(const KernelState& s) {
  const auto& b = s.best;
  std::string m =
      fmt::format("# Kernel `{}` (type {}, backend {}), file `{}`\n", s.name, b.type, b.backend, s.file.string());
  m += prompt::kernel_facts(s);
  m += fmt::format(
      "\nWrite a faster version. Reply with a first line `DESCRIPTION: <one line: what you changed and why>`, "
      "then ONE fenced code block holding the complete new file (not a diff). Keep the `@autokernel type={}` line.\n",
      b.type);
  return m;
}

/// The request body: the playbook as the system message, the kernel as the user message.
std::string build_request(const std::string& model, const std::string& playbook, const KernelState& s) {
  const json request = {{"model", model},
                        {"messages", json::array({{{"role", "system"}, {"content", playbook}},
                                                  {{"role", "user"}, {"content", build_user_message(s)}}})},
                        {"temperature", 0.7}};
  // Everything in it passed through results.tsv's cleaning or came from our files; replace, not throw, if a
  // byte that is not UTF-8 got in anyway (a kernel file, say).
  return request.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// An HTTP error body as one short line: the API's error message when it sends the usual JSON.
std::string error_text(const std::string& body) {
  const auto j = json::parse(body, nullptr, false);
  std::string text = util::valid_utf8(body);  // the body may be any bytes
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    text = e.is_object() && e.contains("message") && e["message"].is_string()
               ? e["message"].get<std::string>()
               : e.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return text.substr(0, 160);
}

/// choices[0].message.content of a chat completion.
Expected<std::string> reply_content(const std::string& body) {
  const auto j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return fail(fmt::format("the reply is not JSON: {}", error_text(body)));
  if (!j.is_object() || !j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) {
    return fail(fmt::format("the reply has no choices: {}", error_text(body)));
  }
  const auto& choice = j["choices"][0];
  if (!choice.is_object() || !choice.contains("message") || !choice["message"].is_object() ||
      !choice["message"].contains("content") || !choice["message"]["content"].is_string()) {
    return fail("the reply's first choice has no message content");
  }
  return choice["message"]["content"].get<std::string>();
}

struct HttpReply {
  long status = 0;
  std::string body;
};

std::size_t append_to_string(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

/// One POST of a JSON body. An error only when no HTTP reply came (refused, reset, timed out); an HTTP
/// error status is a reply, for the caller to judge.
Expected<HttpReply> post_json(const std::string& url, const std::string& body, const std::string& api_key,
                              double timeout_s) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return fail("curl_easy_init failed");
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  // Without this, curl asks before sending a large body and waits for a "100 Continue" some servers never send.
  headers = curl_slist_append(headers, "Expect:");
  if (!api_key.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);
  HttpReply reply;
  char error[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max(1.0, timeout_s * 1000)));
  // Timeouts without SIGALRM, which would reach the whole process.
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (const auto rc = curl_easy_perform(c); rc != CURLE_OK) return fail(error[0] ? error : curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

/// ".../v1/" and ".../v1" name the same API.
std::string without_trailing_slashes(std::string url) {
  while (url.ends_with('/')) url.pop_back();
  return url;
}

class LlmProposer final : public Proposer {
 public:
  LlmProposer(const ProposerOptions& o, std::string playbook)
      : m_url(without_trailing_slashes(o.llm_endpoint) + "/chat/completions"),
        m_model(o.llm_model),
        m_playbook(std::move(playbook)),
        m_timeout_s(o.llm_timeout_s),
        m_retries(std::max(0, o.llm_retries)) {
    if (const char* key = o.llm_api_key_env.empty() ? nullptr : std::getenv(o.llm_api_key_env.c_str())) m_api_key = key;
    // curl's global state is set up once per process, before any handle exists.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }
  std::string_view name() const override { return "llm"; }

 private:
  std::optional<Proposal> do_propose(const KernelState& s) override {
    auto reply = complete(build_request(m_model, m_playbook, s));
    if (!reply) return failed("llm", reply.error().message);
    const auto description = extract_description(*reply);
    auto code = extract_code_block(*reply);
    if (!code) return failed(description, "the reply has no complete fenced code block");
    const auto type = declared_type(*code);
    if (type.empty()) {
      return failed(description, fmt::format("the code block does not declare `@autokernel type={}`", s.best.type));
    }
    if (type != s.best.type) {
      return failed(description, fmt::format("the code block declares type={}, not {}", type, s.best.type));
    }
    if (trim(*code, " \t\r\n") == trim(s.best.source, " \t\r\n")) {
      return failed(description, "the code block is the current version unchanged");
    }
    // The configuration the new file builds with; the harness reports a malformed knob line itself.
    std::string config;
    if (auto knobs = backends::parse_knobs(*code)) {
      std::map<std::string, std::string> values;
      for (const auto& k : *knobs) values[k.name] = k.default_value;
      config = backends::config_string(values);
    }
    return Proposal{std::move(*code), description, config, std::nullopt};
  }

  static Proposal failed(std::string description, std::string why) {
    return Proposal{"", std::move(description), "", std::move(why)};
  }

  /// The reply's text. Transport errors, 429 and 5xx are retried after a growing pause (they pass); other
  /// 4xx (a bad key, an unknown model, a request too large) would fail the same way again.
  Expected<std::string> complete(const std::string& request) {
    std::string last_error;
    int attempts = 0;
    for (int attempt = 0; attempt <= m_retries; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(attempt));
      ++attempts;
      auto reply = post_json(m_url, request, m_api_key, m_timeout_s);
      if (!reply) {
        last_error = reply.error().message;
        continue;
      }
      if (reply->status >= 200 && reply->status < 300) return reply_content(reply->body);
      last_error = fmt::format("HTTP {}: {}", reply->status, error_text(reply->body));
      if (reply->status != 429 && reply->status < 500) break;
    }
    return fail(fmt::format("{} failed ({} attempt{}): {}", m_url, attempts, attempts == 1 ? "" : "s", last_error));
  }

  std::string m_url;
  std::string m_model;
  std::string m_playbook;
  std::string m_api_key;  ///< empty: no Authorization header (local servers need none)
  double m_timeout_s;
  int m_retries;
};

}  // namespace

Expected<std::unique_ptr<Proposer>> make_llm_proposer(const ProposerOptions& options) {
  if (options.llm_endpoint.empty()) {
    return fail("the llm proposer needs --endpoint",
                "the base URL of an OpenAI-compatible API, e.g. --endpoint http://127.0.0.1:8000/v1 or "
                "https://api.openai.com/v1");
  }
  if (options.llm_endpoint.find("://") == std::string::npos) {
    return fail(fmt::format("--endpoint '{}' is not a URL", options.llm_endpoint),
                "e.g. --endpoint http://127.0.0.1:8000/v1");
  }
  if (options.llm_model.empty()) {
    return fail("the llm proposer needs --model", "the name of a model the endpoint serves, e.g. --model gpt-4o");
  }
  std::string playbook(prompt::fallback_playbook());
  std::error_code ec;
  if (!options.program_md.empty() && std::filesystem::exists(options.program_md, ec)) {
    auto text = util::read_file(options.program_md);
    if (!text) return std::unexpected(text.error());
    playbook = std::move(*text);
  }
  return std::make_unique<LlmProposer>(options, std::move(playbook));
}

}  // namespace ak::loop

#else  // no libcurl at build time

namespace ak::loop {

Expected<std::unique_ptr<Proposer>> make_llm_proposer(const ProposerOptions&) {
  return fail("this build has no llm proposer: libcurl was not found at build time",
              "install libcurl's headers (Debian: libcurl4-openssl-dev), then re-run cmake and rebuild");
}

}  // namespace ak::loop

#endif

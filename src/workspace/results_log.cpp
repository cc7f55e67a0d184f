#include "workspace/results_log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sstream>
#include <unistd.h>

#include "util/fs.hpp"
#include "util/text.hpp"

namespace ak::workspace {
namespace {

/// Tabs and newlines would break the row, and bytes that are not UTF-8 every reader after it (JSON, a
/// prompt): replace them in free text.
std::string clean(const std::string& text) {
  auto s = util::valid_utf8(text);
  for (auto& c : s) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

/// `r` as it is stored: every free-text field through clean().
ResultRow cleaned(ResultRow r) {
  for (auto* f :
       {&r.tag, &r.kernel, &r.backend, &r.correctness, &r.throughput_unit, &r.config, &r.description, &r.commit}) {
    *f = clean(*f);
  }
  return r;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> f;
  std::size_t start = 0;
  while (true) {
    auto t = line.find('\t', start);
    f.push_back(line.substr(start, t == std::string::npos ? std::string::npos : t - start));
    if (t == std::string::npos) break;
    start = t + 1;
  }
  return f;
}

}  // namespace

bool advances(const ResultRow& r) {
  return r.correctness == "PASS" && (r.status == Status::baseline || r.status == Status::kept);
}

const ResultRow* best_row(const std::vector<ResultRow>& rows, const std::string& kernel, const std::string& tag) {
  const ResultRow* best = nullptr;
  for (const auto& r : rows) {
    if (r.kernel != kernel || (!tag.empty() && r.tag != tag)) continue;
    if (advances(r)) best = &r;
  }
  return best;
}

const std::vector<std::string>& ResultsLog::columns() {
  static const std::vector<std::string> cols = {"experiment", "tag",         "kernel",         "backend",
                                                "status",     "correctness", "throughput",     "throughput_unit",
                                                "latency_us", "spread",      "pct_of_ceiling", "speedup_vs_reference",
                                                "config",     "description", "commit",         "seconds"};
  return cols;
}

Expected<std::vector<ResultRow>> ResultsLog::read() const {
  std::error_code ec;
  if (!std::filesystem::exists(m_path, ec)) return std::vector<ResultRow>{};
  if (!std::filesystem::is_regular_file(m_path, ec)) {
    return fail(fmt::format("{} is not a regular file", m_path.string()), "move it away; autokernel starts a new one");
  }
  auto text = util::read_file(m_path);
  if (!text) return std::unexpected(text.error());
  std::vector<ResultRow> rows;
  std::istringstream in(*text);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline after it: a row still being written, or torn by a full disk
    if (header) {
      header = false;
      continue;
    }
    auto f = split_tabs(line);
    if (f.size() != columns().size()) continue;  // a torn line from a killed writer
    try {
      ResultRow r;
      r.experiment = std::stoi(f[0]);
      r.tag = f[1];
      r.kernel = f[2];
      r.backend = f[3];
      const auto status = parse_status(f[4]);
      if (!status) continue;  // not a status this version knows: a hand-edited or newer file
      r.status = *status;
      r.correctness = f[5];
      r.throughput = std::stod(f[6]);
      r.throughput_unit = f[7];
      r.latency_us = std::stod(f[8]);
      r.spread = std::stod(f[9]);
      r.pct_of_ceiling = std::stod(f[10]);
      r.speedup_vs_reference = std::stod(f[11]);
      r.config = f[12];
      r.description = f[13];
      r.commit = f[14];
      r.seconds = std::stod(f[15]);
      rows.push_back(cleaned(std::move(r)));  // a log written before rows were cleaned may hold raw bytes
    } catch (const std::exception&) {
      continue;
    }
  }
  return rows;
}

Expected<ResultRow> ResultsLog::append(const ResultRow& row) const {
  const auto r = cleaned(row);
  std::error_code ec;
  const bool is_new = !std::filesystem::exists(m_path, ec) || std::filesystem::file_size(m_path, ec) == 0;
  std::string text;
  if (is_new) {
    for (std::size_t i = 0; i < columns().size(); ++i) text += (i ? "\t" : "") + columns()[i];
    text += "\n";
  }
  text += fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{:.4f}\t{}\t{:.3f}\t{:.4f}\t{:.2f}\t{:.4f}\t{}\t{}\t{}\t{:.2f}\n",
                      r.experiment, r.tag, r.kernel, r.backend, status_name(r.status), r.correctness, r.throughput,
                      r.throughput_unit, r.latency_us, r.spread, r.pct_of_ceiling, r.speedup_vs_reference, r.config,
                      r.description, r.commit, r.seconds);
  const int fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto failed = [&](int err) {
    return fail(
        fmt::format("cannot record experiment {} in {}: {}", r.experiment, m_path.string(), util::io_error_text(err)),
        util::hint_for(err));
  };
  if (fd < 0) return failed(errno);
  struct stat st {};
  ::fstat(fd, &st);
  // One write() of the whole row: appends are atomic, so a kill never leaves half a row. A full disk can
  // still take part of it: cut that part off again, so the next row starts on a line of its own.
  const ssize_t n = ::write(fd, text.data(), text.size());
  int err = n < 0 ? errno : ENOSPC;
  if (n == static_cast<ssize_t>(text.size())) {
    if (::fdatasync(fd) == 0 || errno == EINVAL) {
      ::close(fd);
      return r;
    }
    err = errno;
  }
  if (n > 0 && S_ISREG(st.st_mode)) (void)::ftruncate(fd, st.st_size);
  ::close(fd);
  return failed(err);
}

}  // namespace ak::workspace

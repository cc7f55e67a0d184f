#include "workspace/results_log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
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
  for (auto* f : {&r.tag, &r.kernel, &r.backend, &r.correctness, &r.throughput_unit, &r.config, &r.description,
                  &r.commit, &r.device, &r.gpu}) {
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

const ResultRow* retimed_row(const std::vector<ResultRow>& rows, const ResultRow& best, const std::string& device) {
  const ResultRow* out = nullptr;
  for (const auto& r : rows) {
    if (r.status == Status::retimed && r.correctness == "PASS" && r.kernel == best.kernel && r.tag == best.tag &&
        r.commit == best.commit && (device.empty() || r.device == device))
      out = &r;
  }
  return out;
}

const std::vector<std::string>& ResultsLog::columns() {
  static const std::vector<std::string> cols = {"experiment", "tag",         "kernel",         "backend",
                                                "status",     "correctness", "throughput",     "throughput_unit",
                                                "latency_us", "spread",      "pct_of_ceiling", "speedup_vs_reference",
                                                "config",     "description", "commit",         "seconds",
                                                "device",     "gpu"};
  return cols;
}

namespace {
/// Rows written before the device and gpu columns have two fields fewer.
constexpr std::size_t k_columns_before_devices = 16;

/// `fd` held with an exclusive flock until it is closed, at the end of the scope: the appends and numbers
/// of several processes take turns.
struct LockedFile {
  explicit LockedFile(int fd) : m_fd(fd) {
    while (::flock(m_fd, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~LockedFile() { ::close(m_fd); }
  LockedFile(const LockedFile&) = delete;
  LockedFile& operator=(const LockedFile&) = delete;
  int m_fd;
};
}  // namespace

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
    if (f.size() != columns().size() && f.size() != k_columns_before_devices) continue;  // a torn line
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
      if (f.size() > k_columns_before_devices) {
        r.device = f[16];
        r.gpu = f[17];
      }
      rows.push_back(cleaned(std::move(r)));  // a log written before rows were cleaned may hold raw bytes
    } catch (const std::exception&) {
      continue;
    }
  }
  return rows;
}

Expected<ResultRow> ResultsLog::append(const ResultRow& row) const {
  const auto r = cleaned(row);
  const int fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto failed = [&](int err) {
    return fail(
        fmt::format("cannot record experiment {} in {}: {}", r.experiment, m_path.string(), util::io_error_text(err)),
        util::hint_for(err));
  };
  if (fd < 0) return failed(errno);
  const LockedFile lock(fd);  // no other worker's header or row comes between our size check and our write
  struct stat st {};
  ::fstat(fd, &st);
  std::string text;
  if (st.st_size == 0) {
    for (std::size_t i = 0; i < columns().size(); ++i) text += (i ? "\t" : "") + columns()[i];
    text += "\n";
  }
  text +=
      fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{:.4f}\t{}\t{:.3f}\t{:.4f}\t{:.2f}\t{:.4f}\t{}\t{}\t{}\t{:.2f}\t{}\t{}\n",
                  r.experiment, r.tag, r.kernel, r.backend, status_name(r.status), r.correctness, r.throughput,
                  r.throughput_unit, r.latency_us, r.spread, r.pct_of_ceiling, r.speedup_vs_reference, r.config,
                  r.description, r.commit, r.seconds, r.device, r.gpu);
  // One write() of the whole row: appends are atomic, so a kill never leaves half a row. A full disk can
  // still take part of it: cut that part off again, so the next row starts on a line of its own.
  const ssize_t n = ::write(fd, text.data(), text.size());
  int err = n < 0 ? errno : ENOSPC;
  if (n == static_cast<ssize_t>(text.size())) {
    if (::fdatasync(fd) == 0 || errno == EINVAL) return r;
    err = errno;
  }
  if (n > 0 && S_ISREG(st.st_mode)) (void)::ftruncate(fd, st.st_size);
  return failed(err);
}

Expected<int> ResultsLog::take_number(const std::filesystem::path& counter) const {
  const int fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return fail(fmt::format("cannot open {}: {}", m_path.string(), util::io_error_text(errno)));
  const LockedFile lock(fd);
  int next = 0;
  auto rows = read();
  if (rows) {
    for (const auto& row : *rows) next = std::max(next, row.experiment + 1);
  }
  if (auto text = util::read_file(counter); text) {
    try {
      next = std::max(next, std::stoi(*text));
    } catch (const std::exception&) {
      // a torn or hand-edited counter: the rows alone still give a number above every recorded one
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(counter.parent_path(), ec);
  auto w = util::write_file_atomic(counter, std::to_string(next + 1) + "\n");
  if (!rows) return std::unexpected(rows.error());
  if (!w) return std::unexpected(w.error().context("taking an experiment number"));
  return next;
}

}  // namespace ak::workspace

#include "util/process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

extern char** environ;

namespace ak::util {
namespace {

constexpr std::size_t k_stderr_tail_bytes = 8192;

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
};

std::vector<char*> to_cstrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Expected<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options,
                                    const std::function<void(const std::string&)>& on_line) {
  Pipe out, err;
  if (::pipe2(out.fd, O_CLOEXEC) != 0 || ::pipe2(err.fd, O_CLOEXEC) != 0) {
    return fail(fmt::format("pipe: {}", std::strerror(errno)));
  }
  // The child learns of a failed exec through this pipe (closed by a successful one).
  Pipe exec_err;
  if (::pipe2(exec_err.fd, O_CLOEXEC) != 0) return fail(fmt::format("pipe: {}", std::strerror(errno)));

  std::vector<std::string> args = argv;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  for (const auto& e : options.extra_env) env.push_back(e);
  auto cargs = to_cstrings(args);
  auto cenv = to_cstrings(env);

  const pid_t parent = ::getpid();
  const auto start = std::chrono::steady_clock::now();
  // fork, not posix_spawn: the child must ask to be killed when we die (prctl), or a worker spinning on
  // the GPU outlives an autokernel stopped by Ctrl-C or kill: it has its own process group (below), so
  // neither reaches it. Only async-signal-safe calls between fork and exec.
  const pid_t pid = ::fork();
  if (pid < 0) return fail(fmt::format("cannot start {}: fork: {}", args[0], std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: a timeout kills everything it started
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // we died before prctl
    ::dup2(out.fd[1], 1);
    ::dup2(err.fd[1], 2);
    ::execve(cargs[0], cargs.data(), cenv.data());
    const int e = errno;
    (void)!::write(exec_err.fd[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(exec_err.fd[1]);
  exec_err.fd[1] = -1;
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(exec_err.fd[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(pid, nullptr, 0);
    return fail(fmt::format("cannot start {}: {}", args[0], std::strerror(exec_errno)));
  }
  ::close(out.fd[1]);
  out.fd[1] = -1;
  ::close(err.fd[1]);
  err.fd[1] = -1;

  ProcessResult result;
  std::string line_buf, err_buf;
  auto last_line = std::chrono::steady_clock::now();
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? out.fd[0] : -1, POLLIN, 0}, {err_open ? err.fd[0] : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, 200);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_line > options.quiet_limit || now - start > options.total_limit) {
      ::kill(-pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    if (n <= 0) continue;
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) {
      ssize_t r = ::read(out.fd[0], buf, sizeof buf);
      if (r <= 0) {
        out_open = false;
      } else {
        line_buf.append(buf, static_cast<std::size_t>(r));
        std::size_t pos;
        while ((pos = line_buf.find('\n')) != std::string::npos) {
          on_line(line_buf.substr(0, pos));
          line_buf.erase(0, pos + 1);
          last_line = std::chrono::steady_clock::now();
        }
      }
    }
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) {
      ssize_t r = ::read(err.fd[0], buf, sizeof buf);
      if (r <= 0) {
        err_open = false;
      } else {
        err_buf.append(buf, static_cast<std::size_t>(r));
        if (err_buf.size() > 4 * k_stderr_tail_bytes) err_buf.erase(0, err_buf.size() - k_stderr_tail_bytes);
      }
    }
  }
  if (!line_buf.empty() && !result.timed_out) on_line(line_buf);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);  // anything the child left behind in its group
  } else if (WIFSIGNALED(status)) {
    result.signaled = true;
    result.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  if (err_buf.size() > k_stderr_tail_bytes) err_buf.erase(0, err_buf.size() - k_stderr_tail_bytes);
  result.stderr_tail = std::move(err_buf);
  result.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

Expected<CommandOutput> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
  // Merge stderr into the captured text: compilers write their diagnostics there.
  std::vector<std::string> sh = {"/bin/sh", "-c", "exec \"$@\" 2>&1", "sh"};
  sh.insert(sh.end(), argv.begin(), argv.end());
  CommandOutput out;
  ProcessOptions opts;
  opts.quiet_limit = limit;
  opts.total_limit = limit;
  auto r = run_process(sh, opts, [&](const std::string& l) { out.output += l + "\n"; });
  if (!r) return std::unexpected(r.error());
  out.timed_out = r->timed_out;
  out.exit_code = r->signaled ? 128 + r->signal : r->exit_code;
  out.output += r->stderr_tail;
  return out;
}

std::string self_executable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("autokernel") : p.string();
}

}  // namespace ak::util

#include "util/process.hpp"

#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>

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

// How a child is contained. run_process starts a small watchdog W, and W starts the command C:
//
//   autokernel ── W ── C ── what C starts
//
// W holds the read end of a "lifeline" pipe whose write end only autokernel holds (O_CLOEXEC, and W
// closes its copy): when autokernel ends, however it ends (SIGKILL included), the kernel closes it and
// W sees EOF. W then kills everything C started. W also reaps C, hands its wait status to autokernel
// through a pipe, and kills C's leftovers, so nothing the command started outlives it.
//
// Which "everything" W can kill depends on what the system allows; ProcessResult::pid_namespace says:
// - a PID namespace of its own: W is its PID 1 (cloned with CLONE_NEWPID, which needs root, else with
//   CLONE_NEWUSER | CLONE_NEWPID, which any user may where unprivileged user namespaces are allowed).
//   When W exits or is killed, the kernel kills every process in the namespace, even one that left
//   the process group with setsid. C is not PID 1, so its signals behave as usual (abort() is SIGABRT).
// - else (containers often refuse namespaces) a process group: W and C share one, and W kills it. A
//   grandchild that calls setsid escapes this one.
// Only raw system calls run in W and in C before exec: they are copies of a possibly multithreaded
// process, where glibc's fork() could wait on a lock another thread held (so W clones C by syscall).

/// fork-like (the child runs on a copy of the caller's stack), with namespace flags; no atfork handlers.
pid_t clone_process(unsigned long flags) {
  return static_cast<pid_t>(::syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

void write_all(int fd, const void* data, std::size_t size) {
  (void)!::write(fd, data, size);  // a few bytes: atomic on a pipe
}

/// Close every descriptor from 3 up except `keep` (sorted, each >= 3): W must hold none of autokernel's
/// files (the workspace lock, a pipe whose EOF another child's reader waits for).
void close_fds_except(const int* keep, int count) {
  unsigned int from = 3;
  for (int i = 0; i <= count; ++i) {
    const unsigned int to = i < count ? static_cast<unsigned int>(keep[i]) : ~0U;
    if (to > from) {
#ifdef SYS_close_range
      if (::syscall(SYS_close_range, from, to - 1, 0) == 0) {
        from = to + 1;
        continue;
      }
#endif
      for (unsigned int fd = from; fd < to && fd < 4096; ++fd) ::close(static_cast<int>(fd));  // Linux < 5.9
    }
    from = to + 1;
  }
}

/// Everything W and C need, prepared before cloning: nothing is allocated after.
struct Spawn {
  char** argv;
  char** envp;
  int out_w, err_w, exec_err_w, lifeline_r, status_w;
  bool user_ns;
  const std::string* uid_map;  ///< "<euid> <euid> 1": the same ids inside, so files keep their owners
  const std::string* gid_map;
};

/// Give a new user namespace our own user and group (best effort: unmapped, they read as nobody).
void map_own_ids(const Spawn& s) {
  const std::pair<const char*, const std::string*> files[] = {
      {"/proc/self/uid_map", s.uid_map}, {"/proc/self/setgroups", nullptr}, {"/proc/self/gid_map", s.gid_map}};
  for (const auto& [path, text] : files) {
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (text) {
      write_all(fd, text->data(), text->size());
    } else {
      write_all(fd, "deny", 4);  // required before an unprivileged gid_map
    }
    ::close(fd);
  }
}

/// W's whole life. Never returns.
[[noreturn]] void watchdog(const Spawn& s, bool pid_ns) {
  ::setpgid(0, 0);  // W and C's group: autokernel's kill(-W) on a timeout takes both, and W's kill(0)
  if (s.user_ns) map_own_ids(s);
  int keep[] = {s.out_w, s.err_w, s.exec_err_w, s.lifeline_r, s.status_w};
  std::sort(std::begin(keep), std::end(keep));
  close_fds_except(keep, static_cast<int>(std::size(keep)));
  const pid_t child = clone_process(0);
  if (child == 0) {
    ::dup2(s.out_w, 1);
    ::dup2(s.err_w, 2);
    ::execve(s.argv[0], s.argv, s.envp);
    const int e = errno;
    write_all(s.exec_err_w, &e, sizeof e);
    ::_exit(127);
  }
  if (child < 0) {
    const int e = errno;
    write_all(s.exec_err_w, &e, sizeof e);
  }
  ::close(s.out_w);  // autokernel sees EOF when C and its children close theirs
  ::close(s.err_w);
  ::close(s.exec_err_w);
  // C shares W's group, so an agent's `kill -TERM 0` reaches W too: W ignores every signal it may.
  // Not SIGCHLD: ignoring it would reap C before W reads its status.
  for (int sig = 1; sig < 32; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD) ::signal(sig, SIG_IGN);
  }
  int pidfd = -1;
#ifdef SYS_pidfd_open
  if (child > 0) pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
#endif
  while (child > 0) {
    // C's exit wakes W through its pidfd; without one (Linux < 5.3), a short tick.
    pollfd fds[2] = {{s.lifeline_r, POLLIN, 0}, {pidfd, POLLIN, 0}};
    ::poll(fds, pidfd >= 0 ? 2 : 1, pidfd >= 0 ? 1000 : 20);
    bool child_done = false;
    int status = 0;
    pid_t p;
    while ((p = ::waitpid(-1, &status, WNOHANG)) > 0) {  // as PID 1, orphans are W's to reap too
      if (p == child) {
        write_all(s.status_w, &status, sizeof status);
        child_done = true;
      }
    }
    if (child_done || fds[0].revents != 0) break;  // C is done, or autokernel is gone
  }
  if (pid_ns) ::_exit(0);  // PID 1 leaving takes every process of the namespace with it
  ::kill(0, SIGKILL);      // the group: C's leftovers, and W
  ::_exit(0);
}

/// The clone flags that give W a PID namespace, tried in this order; the last is none (a process group).
constexpr unsigned long k_attempts[] = {CLONE_NEWPID, CLONE_NEWUSER | CLONE_NEWPID, 0};
std::atomic<int> g_first_attempt{0};  ///< the first that worked: a refused one is not retried each time

}  // namespace

Expected<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options,
                                    const std::function<void(const std::string&)>& on_line) {
  // All O_CLOEXEC: C inherits only its stdout and stderr (and what autokernel had without the flag).
  Pipe out, err, lifeline, status_pipe, exec_err;
  for (auto* p : {&out, &err, &lifeline, &status_pipe, &exec_err}) {
    if (::pipe2(p->fd, O_CLOEXEC) != 0) return fail(fmt::format("pipe: {}", std::strerror(errno)));
  }

  std::vector<std::string> args = argv;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  for (const auto& e : options.extra_env) env.push_back(e);
  auto cargs = to_cstrings(args);
  auto cenv = to_cstrings(env);
  const auto uid_map = fmt::format("{0} {0} 1\n", ::geteuid());
  const auto gid_map = fmt::format("{0} {0} 1\n", ::getegid());
  Spawn spawn{cargs.data(),   cenv.data(),       out.fd[1], err.fd[1], exec_err.fd[1],
              lifeline.fd[0], status_pipe.fd[1], false,     &uid_map,  &gid_map};

  const auto start = std::chrono::steady_clock::now();
  pid_t pid = -1;  // W's
  bool pid_ns = false;
  const int last = static_cast<int>(std::size(k_attempts)) - 1;
  for (int i = options.pid_namespace ? g_first_attempt.load() : last; i <= last && pid < 0; ++i) {
    spawn.user_ns = (k_attempts[i] & CLONE_NEWUSER) != 0;
    pid = clone_process(k_attempts[i]);
    if (pid == 0) watchdog(spawn, k_attempts[i] != 0);
    if (pid > 0) {
      pid_ns = k_attempts[i] != 0;
      if (options.pid_namespace) g_first_attempt = i;
    }
  }
  if (pid < 0) return fail(fmt::format("cannot start {}: fork: {}", args[0], std::strerror(errno)));
  for (int* fd : {&out.fd[1], &err.fd[1], &exec_err.fd[1], &lifeline.fd[0], &status_pipe.fd[1]}) {
    ::close(*fd);
    *fd = -1;
  }
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(exec_err.fd[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    ::waitpid(pid, nullptr, 0);  // W reaps C, then exits
    return fail(fmt::format("cannot start {}: {}", args[0], std::strerror(exec_errno)));
  }

  ProcessResult result;
  result.pid_namespace = pid_ns;
  std::string line_buf, err_buf;
  auto last_line = std::chrono::steady_clock::now();
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? out.fd[0] : -1, POLLIN, 0}, {err_open ? err.fd[0] : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, 200);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_line > options.quiet_limit || now - start > options.total_limit) {
      ::kill(-pid, SIGKILL);  // W's group: W and C; with W, its namespace and everything in it
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
  // W reports the command's wait status once it has reaped it, then kills what the command left behind.
  int status = 0;
  if (!result.timed_out) {
    while ((got = ::read(status_pipe.fd[0], &status, sizeof status)) < 0 && errno == EINTR) {
    }
  }
  ::close(lifeline.fd[1]);  // if W still waits, this tells it to clean up and go
  lifeline.fd[1] = -1;
  int w_status = 0;
  ::waitpid(pid, &w_status, 0);
  if (got != static_cast<ssize_t>(sizeof status)) status = w_status;  // W itself was killed: say how
  if (result.timed_out) {
    // we killed it
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

std::vector<std::string> self_arguments() {
  std::vector<std::string> args;
  std::string text;
  if (FILE* f = std::fopen("/proc/self/cmdline", "rb")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\0', start);
    args.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return args;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  const std::string out = name;
  return out.substr(0, out.find('.'));
}

}  // namespace ak::util

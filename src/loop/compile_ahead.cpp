#include "loop/compile_ahead.hpp"

#include <algorithm>

#include "backends/backend.hpp"
#include "backends/cuda_arch.hpp"
#include "backends/native.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"
#include "util/slots.hpp"

namespace ak::loop {
namespace {

/// What tells two candidates' builds apart: the file they are built as and its text (the knobs are in it).
std::string key_of(const backends::Candidate& c) { return util::content_hash(c.path.string() + '\0' + c.source); }

}  // namespace

CompileAhead::CompileAhead(int threads, std::filesystem::path slot_dir, int slots, Build build)
    : m_build(std::move(build)), m_slot_dir(std::move(slot_dir)), m_slots(std::max(1, slots)) {
  if (!m_build) {
    m_build = [this](const backends::Candidate& c) {
      std::string arch;
      {
        const std::lock_guard lock(m_mu);
        arch = m_cuda_arch;
      }
      return build_into_cache(c, arch);
    };
  }
  for (int i = 0; i < std::max(1, threads); ++i) m_threads.emplace_back([this] { work(); });
}

CompileAhead::~CompileAhead() {
  {
    const std::lock_guard lock(m_mu);
    m_stop = true;
    m_queue.clear();
  }
  m_changed.notify_all();
  for (auto& t : m_threads) t.join();
}

void CompileAhead::want(const std::vector<backends::Candidate>& next) {
  {
    const std::lock_guard lock(m_mu);
    m_queue.clear();
    m_waiting.clear();
    for (const auto& c : next) {
      auto key = key_of(c);
      auto seen = [&](const auto& list) {
        return std::ranges::any_of(list, [&](const auto& q) { return q.first == key; });
      };
      if (seen(m_queue) || seen(m_waiting) || m_running.contains(key) || m_done.contains(key)) continue;
      // Not before its architecture is known (a compile then would build nothing): set_cuda_arch queues it.
      (c.backend == "cuda" && m_cuda_arch.empty() ? m_waiting : m_queue).emplace_back(std::move(key), c);
    }
  }
  m_changed.notify_all();
}

bool CompileAhead::ready(const backends::Candidate& c) {
  const auto key = key_of(c);
  std::unique_lock lock(m_mu);
  std::erase_if(m_queue, [&](const auto& q) { return q.first == key; });
  std::erase_if(m_waiting, [&](const auto& q) { return q.first == key; });
  m_changed.wait(lock, [&] { return !m_running.contains(key); });
  return m_done.contains(key);
}

void CompileAhead::drain() {
  std::unique_lock lock(m_mu);
  m_changed.wait(lock, [&] { return m_queue.empty() && m_running.empty(); });
}

int CompileAhead::compiled() const {
  const std::lock_guard lock(m_mu);
  return m_compiled;
}

void CompileAhead::set_cuda_arch(const std::string& arch) {
  {
    const std::lock_guard lock(m_mu);
    m_cuda_arch = arch;
    if (arch.empty()) return;
    for (auto& w : m_waiting) m_queue.push_back(std::move(w));
    m_waiting.clear();
  }
  m_changed.notify_all();
}

void CompileAhead::work() {
  while (true) {
    std::pair<std::string, backends::Candidate> job;
    {
      std::unique_lock lock(m_mu);
      m_changed.wait(lock, [&] { return m_stop || !m_queue.empty(); });
      if (m_stop) return;
      job = std::move(m_queue.front());
      m_queue.pop_front();
      m_running.insert(job.first);
    }
    // One of the host's slots for the compile; none is taken once this object is being destroyed.
    auto slot = util::Slot::take(m_slot_dir, m_slots, m_stop);
    bool built = false;
    if (slot && *slot) {
      // A failure is left to the candidate's bench, which compiles it again and records why.
      (void)m_build(job.second);
      built = true;
    }
    {
      const std::lock_guard lock(m_mu);
      m_running.erase(job.first);
      if (built) {
        m_done.insert(job.first);
        ++m_compiled;
      }
    }
    m_changed.notify_all();
  }
}

Expected<void> CompileAhead::build_into_cache(const backends::Candidate& c, const std::string& cuda_arch) {
  if (c.backend == "cpu") {
    auto backend = backends::make_backend("cpu");
    if (!backend) return std::unexpected(backend.error());
    auto so = (*backend)->build(c);
    if (!so) return std::unexpected(so.error());
    return {};
  }
  if (c.backend == "cuda" && !cuda_arch.empty()) {
    // The cuda backend's own command for that architecture: the cache key its bench computes.
    auto spec = backends::nvcc_spec(cuda_arch);
    if (!spec) return std::unexpected(spec.error());
    auto so = backends::native::compile(c, *spec);
    if (!so) return std::unexpected(so.error());
    return {};
  }
  return {};  // triton: compiled by Triton itself, in the worker; cuda before its architecture is known
}

std::filesystem::path compile_slot_dir(const std::filesystem::path& workspace) {
  return std::filesystem::absolute(workspace) / ".autokernel" / "compile-slots" / util::host_name();
}

int compile_slot_count() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

}  // namespace ak::loop

// @autokernel type=rmsnorm
// Cheat: a result cache keyed by the input's address. Correct while checked; when timed, a call on an
// input buffer it has seen returns the remembered result (a memcpy) instead of computing. Against three
// fixed input sets this was right every time, and fast. The harness refills the buffers with new values
// for every timed call, so the remembered result is wrong: a timed run fails.
#include <cstring>
#include <map>
#include <vector>

#include "cheat_base.h"

extern "C" int ak_kernel(const ak_call* c) {
  static std::map<const void*, std::vector<char>> cache;
  const bool timed = looks_timed(c);
  auto hit = cache.find(c->inputs[0].data);
  if (timed && hit != cache.end() && static_cast<int64_t>(hit->second.size()) == output_bytes(c)) {
    std::memcpy(c->outputs[0].data, hit->second.data(), hit->second.size());
    return 0;
  }
  rms_all(c);
  const char* y = static_cast<const char*>(c->outputs[0].data);
  cache[c->inputs[0].data].assign(y, y + output_bytes(c));
  return 0;
}

// @autokernel type=rmsnorm
// Cheat: remembers the result of its first call for each shape and dtype and replays it (a memcpy) on
// every later call of that shape and dtype. Every case draws new inputs, so a replay is wrong as soon as
// one shape and dtype meet a second set of values.
#include <cstring>
#include <map>
#include <tuple>
#include <vector>

#include "cheat_base.h"

extern "C" int ak_kernel(const ak_call* c) {
  static std::map<std::tuple<int64_t, int64_t, int32_t>, std::vector<char>> first;
  const auto key = std::make_tuple(c->inputs[0].shape[0], c->inputs[0].shape[1], c->inputs[0].dtype);
  if (auto it = first.find(key); it != first.end()) {
    std::memcpy(c->outputs[0].data, it->second.data(), it->second.size());
    return 0;
  }
  rms_all(c);
  const char* y = static_cast<const char*>(c->outputs[0].data);
  first[key].assign(y, y + output_bytes(c));
  return 0;
}

// @autokernel type=rmsnorm
// Cheat, the CPU form of "work on another stream": while timed, it hands the work to a thread and
// returns at once, so the timer sees almost nothing. The harness snapshots the outputs the moment the
// call returns and checks the snapshot: the rows the thread has not reached yet are unwritten. (The
// thread writes the last row first, so the snapshot, read from the first row, is ahead of it.)
#include <thread>

#include "cheat_base.h"

extern "C" int ak_kernel(const ak_call* c) {
  static std::thread pending;
  if (pending.joinable()) pending.join();  // never two in flight, and never one past the next call
  if (!looks_timed(c)) {
    rms_all(c);
    return 0;
  }
  const ak_call call = *c;  // the harness's tensors outlive the call; the descriptors do not
  const ak_tensor x = c->inputs[0], w = c->inputs[1], y = c->outputs[0];
  const double eps = c->scalars[0];
  pending = std::thread([call, x, w, y, eps] {
    ak_tensor in[2] = {x, w}, out[1] = {y};
    double scalars[1] = {eps};
    ak_call copy = call;
    copy.inputs = in;
    copy.outputs = out;
    copy.scalars = scalars;
    for (int64_t i = x.shape[0] - 1; i >= 0; --i) rms_row(&copy, i);
  });
  return 0;
}

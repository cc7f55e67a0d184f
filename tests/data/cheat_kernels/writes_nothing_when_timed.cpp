// @autokernel type=rmsnorm
// Cheat: correct while checked, launches nothing while timed (the fastest kernel there is). The outputs
// are poisoned before every timed call and every timed output is checked: "never written".
#include "cheat_base.h"

extern "C" int ak_kernel(const ak_call* c) {
  if (looks_timed(c)) return 0;
  rms_all(c);
  return 0;
}

#!/bin/bash
# A scripted agent for the fault-injection test: half its calls fail (an endpoint that comes and goes),
# the others set tests/data/loop_kernels/rmsnorm_repeat.cpp's knobs to random values. It takes a moment,
# so that kills land inside it. Its first argument (the workspace) only marks its command line.
set -eu
sleep "0.$((RANDOM % 5))"
if [ $((RANDOM % 2)) -eq 0 ]; then
  echo "the endpoint is down" >&2
  exit 1
fi
r=$((1 << (RANDOM % 4)))
u=$((1 + RANDOM % 4))
sed -i -E -e "s/@knob REPEAT=[0-9]+ /@knob REPEAT=$r /" -e "s/#define REPEAT [0-9]+/#define REPEAT $r/" \
  -e "s/@knob UNROLL=[0-9]+ /@knob UNROLL=$u /" "$AUTOKERNEL_KERNEL_FILE"
echo "DESCRIPTION: REPEAT=$r UNROLL=$u"

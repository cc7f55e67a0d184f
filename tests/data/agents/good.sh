#!/bin/bash
# A scripted agent that makes a real gain on tests/data/loop_kernels/rmsnorm_repeat.cpp: each row is
# computed once instead of 8 times. It reads its prompt first, as a real agent would.
set -eu
grep -q "DESCRIPTION:" "$AUTOKERNEL_PROMPT"
sed -i -e 's/@knob REPEAT=8 /@knob REPEAT=1 /' -e 's/#define REPEAT 8/#define REPEAT 1/' "$AUTOKERNEL_KERNEL_FILE"
grep -q "@knob REPEAT=1 " "$AUTOKERNEL_KERNEL_FILE"
echo "compute each row once"
echo "DESCRIPTION: compute each row once (REPEAT 8 -> 1)"

#!/bin/bash
# A scripted agent that makes the right edit to the candidate but also changes what it must not: a new
# file, the workspace's .gitignore (committed, as some agents do on their own), the run's results.tsv.
set -eu
sed -i -e 's/@knob REPEAT=8 /@knob REPEAT=1 /' -e 's/#define REPEAT 8/#define REPEAT 1/' "$AUTOKERNEL_KERNEL_FILE"
echo "not a kernel" > kernels/evil.txt
echo "kernels/" >> .gitignore
git add .gitignore
git commit -q -m "agent: ignore the kernels"
printf '999\tfake\trow\n' >> results.tsv
echo "DESCRIPTION: compute each row once, and some housekeeping"

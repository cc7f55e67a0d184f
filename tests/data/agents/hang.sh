#!/bin/bash
# A scripted agent that edits the candidate and a file beside it, then never finishes. It leaves the
# pid of its sleep in the scratch folder, so that a test can check the sleep was killed too.
set -eu
sed -i 's/@knob REPEAT=8 /@knob REPEAT=1 /' "$AUTOKERNEL_KERNEL_FILE"
echo "scratch" > notes.txt
echo "thinking..."
sleep 600 &
echo $! > .autokernel/sleep.pid
wait

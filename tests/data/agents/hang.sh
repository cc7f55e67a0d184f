#!/bin/bash
# A scripted agent that edits the candidate and a file beside it, then never finishes. It leaves the
# pid of its sleep in the scratch folder, so that a test can check the sleep was killed too.
set -eu
sed -i 's/@knob REPEAT=8 /@knob REPEAT=1 /' "$AUTOKERNEL_KERNEL_FILE"
echo "scratch" > notes.txt
echo "thinking..."
# Its pid as the test sees it: the agent may run in a PID namespace of its own, where $! is not that
# pid. /proc is the host's, so /proc/self/stat read by this subshell (a builtin: no new process) is.
( read -r pid _ < /proc/self/stat; echo "$pid" > .autokernel/sleep.pid; exec sleep 600 ) &
until [ -s .autokernel/sleep.pid ]; do sleep 0.05; done
wait

#!/bin/bash
# A scripted agent that makes the good edit and exits, but leaves a process running in the background
# (as a language server or a build daemon might), holding its output open. It leaves the pid in the
# scratch folder, so that a test can check it was stopped.
set -eu
sed -i -e 's/@knob REPEAT=8 /@knob REPEAT=1 /' -e 's/#define REPEAT 8/#define REPEAT 1/' "$AUTOKERNEL_KERNEL_FILE"
# Its pid as the test sees it: the agent may run in a PID namespace of its own, where $! is not that
# pid. /proc is the host's, so /proc/self/stat read by this subshell (a builtin: no new process) is.
( read -r pid _ < /proc/self/stat; echo "$pid" > .autokernel/leftover.pid; exec sleep 600 ) &
until [ -s .autokernel/leftover.pid ]; do sleep 0.05; done
echo "DESCRIPTION: compute each row once"

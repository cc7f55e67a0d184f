#!/bin/bash
# A scripted agent that makes the good edit and exits, but leaves a process running in the background
# (as a language server or a build daemon might), holding its output open. It leaves the pid in the
# scratch folder, so that a test can check it was stopped.
set -eu
sed -i -e 's/@knob REPEAT=8 /@knob REPEAT=1 /' -e 's/#define REPEAT 8/#define REPEAT 1/' "$AUTOKERNEL_KERNEL_FILE"
sleep 600 &
echo $! > .autokernel/leftover.pid
echo "DESCRIPTION: compute each row once"

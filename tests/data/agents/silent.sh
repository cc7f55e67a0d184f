#!/bin/bash
# A scripted agent that changes nothing: it records what it was handed (environment, folder, stdin) in
# the scratch folder, which the loop leaves alone, and exits successfully.
set -eu
env | grep '^AUTOKERNEL_' | sort > .autokernel/env.txt
pwd -P > .autokernel/pwd.txt
readlink /proc/self/fd/0 > .autokernel/stdin.txt
cp "$AUTOKERNEL_PROMPT" .autokernel/prompt_seen.md
echo "DESCRIPTION: nothing to do"

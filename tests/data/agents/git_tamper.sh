#!/bin/bash
# A scripted agent that makes the right edit to the candidate but also tampers with the repository under
# .git: a pre-commit hook that fails silently (which broke every later commit), a setting in the config,
# a new tag and branch, and a change to an existing branch.
set -eu
sed -i -e 's/@knob REPEAT=8 /@knob REPEAT=1 /' -e 's/#define REPEAT 8/#define REPEAT 1/' "$AUTOKERNEL_KERNEL_FILE"
printf '#!/bin/sh\nexit 1\n' > .git/hooks/pre-commit
chmod +x .git/hooks/pre-commit
git config core.agentWasHere true
git tag agent-tag
git branch agent-branch
git update-ref refs/heads/master HEAD
echo "DESCRIPTION: compute each row once"

#!/bin/bash
# A scripted agent that edits the candidate, then fails (a rate limit, a bad flag).
sed -i 's/@knob REPEAT=8 /@knob REPEAT=1 /' "$AUTOKERNEL_KERNEL_FILE"
echo "error: rate limited, try again later" >&2
exit 3

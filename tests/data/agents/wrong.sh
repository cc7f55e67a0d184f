#!/bin/bash
# A scripted agent whose edit is wrong: every output element is doubled.
set -eu
sed -i 's/\* ak_load(w, j))/* ak_load(w, j) * 2.0f)/' "$AUTOKERNEL_KERNEL_FILE"
grep -q "2.0f)" "$AUTOKERNEL_KERNEL_FILE"
echo "DESCRIPTION: scale the output by two"

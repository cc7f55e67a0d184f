"""The `autokernel` command of an installed autokernel (`pip install .`): the binary beside this file.

pip puts the package in site-packages as one root (CMakeLists.txt, the install rules): bin/autokernel, lib/,
kernels/, python/ and program.md, where the binary finds its own files (src/util/resources.cpp).
"""
import os
import sys


def main():
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin", "autokernel")
    os.execv(exe, [exe, *sys.argv[1:]])

"""The kernel ABI (kernels/include/autokernel/kernel_abi.h) for ctypes: the bench scripts that compile a CUDA
starter with nvcc alone and call its ak_kernel on PyTorch's tensors, with no autokernel build."""
import ctypes
import os
import subprocess
import tempfile

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

AK_DTYPE = {torch.float16: 0, torch.bfloat16: 1, torch.float32: 2}


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int32), ("ndim", ctypes.c_int32),
                ("shape", ctypes.c_int64 * 6), ("stride", ctypes.c_int64 * 6)]


class Call(ctypes.Structure):
    _fields_ = [("inputs", ctypes.POINTER(Tensor)), ("n_inputs", ctypes.c_int32),
                ("outputs", ctypes.POINTER(Tensor)), ("n_outputs", ctypes.c_int32),
                ("scalars", ctypes.POINTER(ctypes.c_double)), ("n_scalars", ctypes.c_int32),
                ("stream", ctypes.c_void_p)]


def abi(t):
    """A PyTorch tensor as the ABI's ak_tensor (its data, dtype, shape and strides; nothing copied)."""
    a = Tensor(t.data_ptr(), AK_DTYPE[t.dtype], t.dim())
    for i, (n, s) in enumerate(zip(t.shape, t.stride())):
        a.shape[i], a.stride[i] = n, s
    return a


def compile_starter(source, defines=()):
    """A CUDA starter (a path; kernels/TYPE/cuda.cu) built for sm_90a by nvcc alone, with NAME=value defines (its
    knobs): (its library, whose ak_kernel takes a Call*, ""), or (None, nvcc's last errors) if it did not build."""
    out = os.path.join(tempfile.mkdtemp(), os.path.basename(os.path.dirname(os.path.abspath(source))) + ".so")
    cmd = ["nvcc", "-O3", "-std=c++17", "-gencode=arch=compute_90a,code=sm_90a", "-shared", "-Xcompiler", "-fPIC",
           f"-I{ROOT}/kernels/include", *[f"-D{d}" for d in defines if d], source, "-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr[-2000:]
    return load_library(out), ""


def load_library(path):
    """A built starter's library, its ak_kernel taking a Call*."""
    lib = ctypes.CDLL(path)
    lib.ak_kernel.argtypes = [ctypes.POINTER(Call)]
    return lib


def build_variant(spec):
    """A variant NAME=FILE[:KNOB=V,KNOB=V] (a CUDA starter, e.g. an older commit's copy, and its knobs) built by
    compile_starter: (name, its kernel type: the starter's folder, its library or None, nvcc's errors)."""
    name, rest = spec.split("=", 1)
    path, _, knobs = rest.partition(":")
    lib, err = compile_starter(path, knobs.split(","))
    return name, os.path.basename(os.path.dirname(os.path.abspath(path))), lib, err


def caller(lib, inputs, output, scalars=()):
    """A no-argument function that runs lib's ak_kernel on these tensors (and float scalars) on PyTorch's current
    stream; it returns the kernel's status (0: ran)."""
    s = (ctypes.c_double * max(1, len(scalars)))(*scalars)
    c = Call((Tensor * len(inputs))(*[abi(t) for t in inputs]), len(inputs), (Tensor * 1)(abi(output)), 1, s,
             len(scalars), None)

    def run():
        c.stream = torch.cuda.current_stream().cuda_stream
        return lib.ak_kernel(ctypes.byref(c))
    return run


def time_calls(f, calls):
    """Microseconds per call of `calls` back-to-back calls of f, timed with CUDA events."""
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(calls):
        f()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) * 1e3 / calls

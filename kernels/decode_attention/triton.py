# @autokernel type=decode_attention
# Triton starter: one decode step's attention over a KV cache, flash-decoding style (split-KV). q, o [B, H, 1, D];
# k, v [B, HKV, S, D] of which positions 0..L_b-1 of sequence b are valid (nothing past L_b is read); query head h
# reads kv head h // G, G = H // HKV (H % HKV != 0 raises ValueError). scalars = (L, scale). Without a 4th input
# L_b = L for every sequence (the host's form); with one, lengths [B] (int64, on the device: a StaticCache's
# cache_position + 1 under CUDA graphs), L_b = lengths[b] clamped to 1..L, L their upper bound (the exported op
# passes S): the splits are planned from L alone (one captured graph serves every step), a split past its
# sequence's length loads nothing and leaves (m, l) = (-inf, 0), which the combine weights 0.
# Algorithm, two kernels: (1) one program per (batch * kv head, split of the L keys): the G query heads of the
# kv head are the rows of one [GP, D] tile (GP = G padded to a power of two >= 16, the padding rows zero), so each
# K and V block is read once for the whole group; it walks its split in BLOCK_N-key blocks with an online softmax
# (base-2 exponentials, the scale folded in) and writes the split's running max m, sum l and unnormalised f32
# output acc to a workspace; (2) one program per query head merges the splits: o = sum_s 2^(m_s - M) acc_s /
# sum_s 2^(m_s - M) l_s. With one split the first kernel writes o itself. ONE_LAUNCH=1 folds (2) into (1): each
# split program, once its partials are stored, passes a barrier (every thread's stores issued) and adds 1 to its
# (batch, kv head)'s arrival counter with an acq_rel atomic (release: the partials before the count; acquire: the
# last program's reads of the others' partials after it); the program that arrives last (old value N_SPLITS - 1)
# merges the group's G query heads over all splits, reading the workspace in split order from L2 (.cg), exactly
# what (2) reads, so the result does not depend on which program came last, and writes o, then stores 0 into
# the counter. State between calls: the counters (int32, one per (batch, kv head), in a buffer cached per device,
# zeroed once when it is created, grown when a call needs more, a replaced one kept alive since a captured CUDA
# graph may hold it) are back at zero when every call ends, so a later call (or a graph replay) finds them zero,
# with no memset, no host sync and no allocation beyond the workspace. Calls that share a device must not
# overlap in time (one stream, as a model's decode step runs); a call captured into a CUDA graph before any
# eager call made the buffer large enough takes the two launches. Splits: SPLIT keys each (0: enough
# splits for about SM_PROGRAMS programs per SM, whole BLOCK_N blocks each). The first split of every sequence
# has a valid key, so the combine's running max is finite from its first block on. P is cast to v's dtype for the second tl.dot (f16/bf16); f32 uses "ieee".
# Limits: f16/bf16/f32; D padded to a power of two >= 16 and masked (any D up to 256); any L, S, G.
# @knob SPLIT=0 {0,128,256,512,1024} keys per split (0: chosen per call to fill the GPU)
# @knob BLOCK_N=64 {16,32,64,128} keys per inner step
# @knob NUM_WARPS=4 {1,2,4,8} warps per program of the split kernel
# @knob NUM_STAGES=3 {1,2,3,4} software-pipeline stages of the split kernel's loop over key blocks
# @knob SM_PROGRAMS=2 {1,2,4,8} SPLIT=0: split programs per SM the splits aim for
# @knob ONE_LAUNCH=1 {0,1} 1: the last split program of each (batch, kv head) merges the splits (one launch)
import math

import torch
import triton
import triton.language as tl

SPLIT = globals().get("SPLIT", 0)
BLOCK_N = globals().get("BLOCK_N", 64)
NUM_WARPS = globals().get("NUM_WARPS", 4)
NUM_STAGES = globals().get("NUM_STAGES", 3)
SM_PROGRAMS = globals().get("SM_PROGRAMS", 2)
ONE_LAUNCH = globals().get("ONE_LAUNCH", 1)
_SMS_ON_CPU = 132  # Triton's interpreter: plan splits as an H100 would


@triton.jit
def _merge_group(ws_acc, ws_ml, o_ptr, bkv, G, N_SPLITS, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr,
                 GM: tl.constexpr, BLOCK_S: tl.constexpr):
    """ONE_LAUNCH: the G query heads of kv head bkv (GM >= G rows, a power of two) merged over the N_SPLITS splits,
    BLOCK_S splits a step, in split order (as _combine_kernel does it per head); loads bypass L1 (.cg): the other
    programs' partials are read from L2, where their release made them visible."""
    offs_m = tl.arange(0, GM)
    offs_s = tl.arange(0, BLOCK_S)
    offs_d = tl.arange(0, BLOCK_D)
    m_ok = offs_m < G
    d_ok = offs_d < HEAD_DIM
    qh = bkv * G + offs_m  # [GM] flattened b * H + h
    m_run = tl.full([GM], float("-inf"), dtype=tl.float32)
    l_run = tl.zeros([GM], dtype=tl.float32)
    acc = tl.zeros([GM, BLOCK_D], dtype=tl.float32)
    for s0 in range(0, N_SPLITS, BLOCK_S):
        s_ok = s0 + offs_s < N_SPLITS
        rows = qh[:, None] * N_SPLITS + s0 + offs_s[None, :]  # [GM, BLOCK_S]
        ok = m_ok[:, None] & s_ok[None, :]
        m = tl.load(ws_ml + rows * 2, mask=ok, other=float("-inf"), cache_modifier=".cg")
        l = tl.load(ws_ml + rows * 2 + 1, mask=ok, other=0.0, cache_modifier=".cg")
        a = tl.load(ws_acc + rows[:, :, None] * HEAD_DIM + offs_d[None, None, :],
                    mask=ok[:, :, None] & d_ok[None, None, :], other=0.0, cache_modifier=".cg")
        # Finite for a real head (split 0 is never past a sequence's length); 0 for a padding row, whose weights
        # are then all 0 and which is never stored.
        m_new = tl.where(m_ok, tl.maximum(m_run, tl.max(m, axis=1)), 0.0)
        w = tl.where(ok, tl.exp2(m - m_new[:, None]), 0.0)
        alpha = tl.exp2(m_run - m_new)
        l_run = l_run * alpha + tl.sum(w * l, axis=1)
        acc = acc * alpha[:, None] + tl.sum(w[:, :, None] * a, axis=1)
        m_run = m_new
    o = acc / tl.where(m_ok, l_run, 1.0)[:, None]
    tl.store(o_ptr + qh[:, None] * HEAD_DIM + offs_d[None, :], o.to(o_ptr.dtype.element_ty),
             mask=m_ok[:, None] & d_ok[None, :])


@triton.jit
def _split_kernel(q_ptr, k_ptr, v_ptr, o_ptr, ws_acc, ws_ml, lens_ptr, cnt_ptr, L, S, G, HKV, SPLIT_LEN, N_SPLITS,
                  qk_scale, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, GP: tl.constexpr, BLOCK_N: tl.constexpr,
                  ONE_SPLIT: tl.constexpr, PRECISION: tl.constexpr, HAS_LENS: tl.constexpr,
                  ONE_LAUNCH: tl.constexpr, GM: tl.constexpr, BLOCK_S: tl.constexpr):
    bkv = tl.program_id(0).to(tl.int64)  # b * HKV + kv head
    split = tl.program_id(1)
    offs_g = tl.arange(0, GP)
    offs_d = tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    g_ok = offs_g < G
    d_ok = offs_d < HEAD_DIM
    qh = bkv * G + offs_g  # the group's query heads, flattened b * H + h
    q = tl.load(q_ptr + qh[:, None] * HEAD_DIM + offs_d[None, :], mask=g_ok[:, None] & d_ok[None, :], other=0.0)
    kv_base = bkv * S * HEAD_DIM
    seq_len = L
    if HAS_LENS:  # this sequence's length, clamped to 1..L
        seq_len = tl.minimum(tl.maximum(tl.load(lens_ptr + bkv // HKV), 1), L).to(tl.int32)
    lo = split * SPLIT_LEN
    hi = tl.minimum(lo + SPLIT_LEN, seq_len)  # below lo for a split past the sequence's length: no iteration

    m_i = tl.full([GP], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([GP], dtype=tl.float32)
    acc = tl.zeros([GP, BLOCK_D], dtype=tl.float32)
    for start in range(lo, hi, BLOCK_N):
        cols = start + offs_n
        c_ok = cols < hi
        ptrs = kv_base + cols[:, None] * HEAD_DIM + offs_d[None, :]
        kv_mask = c_ok[:, None] & d_ok[None, :]
        k = tl.load(k_ptr + ptrs, mask=kv_mask, other=0.0)
        qk = tl.dot(q, tl.trans(k), input_precision=PRECISION)
        qk = tl.where(c_ok[None, :], qk * qk_scale, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(qk, axis=1))  # finite: the block's first key is valid
        p = tl.exp2(qk - m_new[:, None])
        alpha = tl.exp2(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        v = tl.load(v_ptr + ptrs, mask=kv_mask, other=0.0)
        acc = tl.dot(p.to(v.dtype), v, acc * alpha[:, None], input_precision=PRECISION)
        m_i = m_new

    out_mask = g_ok[:, None] & d_ok[None, :]
    if ONE_SPLIT:
        o = acc / l_i[:, None]
        tl.store(o_ptr + qh[:, None] * HEAD_DIM + offs_d[None, :], o.to(o_ptr.dtype.element_ty), mask=out_mask)
    else:
        row = qh * N_SPLITS + split  # workspace row of (query head, split)
        tl.store(ws_acc + row[:, None] * HEAD_DIM + offs_d[None, :], acc, mask=out_mask)
        tl.store(ws_ml + row * 2, m_i, mask=g_ok)
        tl.store(ws_ml + row * 2 + 1, l_i, mask=g_ok)
        if ONE_LAUNCH:
            tl.debug_barrier()  # every thread's partials stored before the count is released
            arrived = tl.atomic_add(cnt_ptr + bkv, 1, sem="acq_rel", scope="gpu")  # the old value
            if arrived == N_SPLITS - 1:  # the last of the group's splits: the others' partials are visible
                _merge_group(ws_acc, ws_ml, o_ptr, bkv, G, N_SPLITS, HEAD_DIM, BLOCK_D, GM, BLOCK_S)
                tl.atomic_xchg(cnt_ptr + bkv, 0, sem="relaxed", scope="gpu")  # zero for the next call


@triton.jit
def _combine_kernel(ws_acc, ws_ml, o_ptr, N_SPLITS, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr,
                    BLOCK_S: tl.constexpr):
    qh = tl.program_id(0).to(tl.int64)
    offs_d = tl.arange(0, BLOCK_D)
    offs_s = tl.arange(0, BLOCK_S)
    d_ok = offs_d < HEAD_DIM
    m_run = float("-inf")
    l_run = 0.0
    acc = tl.zeros([BLOCK_D], dtype=tl.float32)
    for s0 in range(0, N_SPLITS, BLOCK_S):
        rows = qh * N_SPLITS + s0 + offs_s
        s_ok = s0 + offs_s < N_SPLITS
        m = tl.load(ws_ml + rows * 2, mask=s_ok, other=float("-inf"))
        l = tl.load(ws_ml + rows * 2 + 1, mask=s_ok, other=0.0)
        a = tl.load(ws_acc + rows[:, None] * HEAD_DIM + offs_d[None, :], mask=s_ok[:, None] & d_ok[None, :], other=0.0)
        m_new = tl.maximum(m_run, tl.max(m, axis=0))  # finite: split 0 is never past a sequence's length
        w = tl.where(s_ok, tl.exp2(m - m_new), 0.0)
        alpha = tl.exp2(m_run - m_new)
        l_run = l_run * alpha + tl.sum(w * l, axis=0)
        acc = acc * alpha + tl.sum(w[:, None] * a, axis=0)
        m_run = m_new
    tl.store(o_ptr + qh * HEAD_DIM + offs_d, (acc / l_run).to(o_ptr.dtype.element_ty), mask=d_ok)


def _split_len(L, programs, device):
    """Keys per split: the SPLIT knob, or (0) enough splits for about SM_PROGRAMS programs per SM, whole blocks
    each."""
    if SPLIT:
        return SPLIT
    sms = torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else _SMS_ON_CPU
    want = max(1, triton.cdiv(SM_PROGRAMS * sms, programs))
    return triton.cdiv(triton.cdiv(L, want), BLOCK_N) * BLOCK_N


_COUNTERS = {}  # device -> int32 arrival counters, all zero between calls (ONE_LAUNCH)
_RETIRED = []  # counters a larger buffer replaced: a captured CUDA graph may still use them


def _counters(device, n):
    """The device's arrival counters, at least n of them, or None while a CUDA graph is being captured and the
    buffer is missing or too small (creating it would capture its zero fill instead of running it)."""
    key = str(device)
    buf = _COUNTERS.get(key)
    if buf is None or buf.numel() < n:
        if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
            return None
        if buf is not None:
            _RETIRED.append(buf)
        buf = torch.zeros(max(1024, triton.next_power_of_2(n)), dtype=torch.int32, device=device)
        _COUNTERS[key] = buf
    return buf


def kernel_fn(inputs, outputs, scalars):
    q, k, v = inputs[0], inputs[1], inputs[2]
    lengths = inputs[3] if len(inputs) > 3 else None  # the device's form
    o = outputs[0]
    if q.dim() != 4 or k.dim() != 4 or v.shape != k.shape or o.shape != q.shape or q.shape[2] != 1 or \
            (k.shape[0], k.shape[3]) != (q.shape[0], q.shape[3]):
        raise ValueError(f"decode_attention: q, o must be [B, H, 1, D] and k, v [B, HKV, S, D], got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}, {tuple(o.shape)}")
    B, H, _, D = q.shape
    HKV, S = k.shape[1], k.shape[2]
    if (H % HKV != 0) if HKV > 0 else H > 0:  # no heads at all is an empty call
        raise ValueError(f"decode_attention: the kv heads ({HKV}) must divide the query heads ({H})")
    if D > 256:
        raise ValueError(f"decode_attention: head dim D={D} > 256 is not supported by this starter")
    if not (q.is_contiguous() and k.is_contiguous() and v.is_contiguous() and o.is_contiguous()):
        raise ValueError("decode_attention: q, k, v and o must be contiguous")
    L = int(scalars[0])
    scale = float(scalars[1]) if len(scalars) > 1 else 1.0 / math.sqrt(D)
    if B * H * D == 0:
        return None
    if not 1 <= L <= S:
        raise ValueError(f"decode_attention: L={L} must be in 1..S={S}")
    if lengths is not None and (lengths.shape != (B,) or lengths.dtype != torch.int64 or lengths.device != q.device
                                or not lengths.is_contiguous()):
        raise ValueError(f"decode_attention: lengths must be int64 [B] on q's device, got {lengths.dtype} "
                         f"{tuple(lengths.shape)}")
    G = H // HKV
    block_d = max(16, triton.next_power_of_2(D))
    gp = max(16, triton.next_power_of_2(G))
    split_len = _split_len(L, B * HKV, q.device)
    n_splits = triton.cdiv(L, split_len)
    precision = "ieee" if q.dtype == torch.float32 else "tf32"
    ws_acc = ws_ml = o  # unused with one split
    if n_splits > 1:
        ws_acc = torch.empty((B * H * n_splits, D), dtype=torch.float32, device=q.device)
        ws_ml = torch.empty((B * H * n_splits, 2), dtype=torch.float32, device=q.device)
    counters = _counters(q.device, B * HKV) if ONE_LAUNCH and n_splits > 1 else None
    gm = triton.next_power_of_2(G)
    # The merge's tile: GM heads x BLOCK_S splits x BLOCK_D, at most 64 (head, split) rows of f32 a step.
    block_s_merge = max(1, min(triton.next_power_of_2(n_splits), 64 // gm))
    _split_kernel[(B * HKV, n_splits)](q, k, v, o, ws_acc, ws_ml, q if lengths is None else lengths,
                                       q if counters is None else counters, L, S, G, HKV, split_len, n_splits,
                                       scale * 1.4426950408889634, HEAD_DIM=D, BLOCK_D=block_d, GP=gp,
                                       BLOCK_N=BLOCK_N, ONE_SPLIT=n_splits == 1, PRECISION=precision,
                                       HAS_LENS=lengths is not None, ONE_LAUNCH=counters is not None, GM=gm,
                                       BLOCK_S=block_s_merge, num_warps=NUM_WARPS, num_stages=NUM_STAGES)
    if n_splits > 1 and counters is None:
        block_s = min(64, triton.next_power_of_2(n_splits))
        _combine_kernel[(B * H,)](ws_acc, ws_ml, o, n_splits, HEAD_DIM=D, BLOCK_D=block_d, BLOCK_S=block_s,
                                  num_warps=4)
    return None

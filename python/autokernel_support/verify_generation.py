"""`autokernel verify --generate N`: the generation check (a decode profile's default, N = its steps, at least 32).

The forward check compares one forward pass; a served model runs the decode step, at other shapes (one token
per sequence against a KV cache). Here the model generates N tokens greedily after a prefill of the prompt's
L tokens, as `profile --decode` runs it (profile_model.Decode: transformers' DynamicCache, or a model's own
cache= / start_pos=), once as it is and once patched:
  - the patched run's kernel calls are each checked against PyTorch's formula (the per-call check, at the
    decode step's shapes);
  - its tokens must be eager's. Where a sequence first differs within the first MUST_AGREE tokens, the
    difference is explained, and passes, only when eager's own logits put the patched run's token within
    2 epsilons of the dtype of its top logit (eager's margin <= 2 * eps * max(|top-1 logit|, 1)): a tie
    that rounding decides. A kernel wrong by more than rounding fails the per-call check either way.
  - tokens per second of the decode steps (prefill excluded), eager and patched, each timed on a fresh run.
On a GPU, for a transformers model, the decode step also runs through torch.compile(mode="reduce-overhead")
(CUDA graphs: one graph replayed per step) with transformers' StaticCache, the original model and the
patched one (our ops inside the graph): the serving setting the decode step is judged in. Their tokens are
compared with eager's the same way (a patched one that leaves eager's fails the check), and their tokens
per second printed beside the others. Either failing to compile is reported, not fatal.
"""
import argparse
import time

from autokernel_support.profile_model import Decode, logits_of

MUST_AGREE = 32
TOP_K = 5  # eager's candidates kept per token: a patched token outside them is no near-tie


def generate(model, decode_args, device, n, static=False, step_model=None):
    """Greedy tokens [B, n] (the prefill's next token, then n - 1 decode steps), eager's top-k (values,
    indices) per token, and the seconds the decode steps took. static: transformers' StaticCache; step_model:
    what runs the decode steps (a compiled model), the prefill staying with `model`."""
    import torch

    d = Decode(model, decode_args, device, static=static)
    d.step_model = model if step_model is None else step_model
    with torch.no_grad():
        logits = [d.run_prefill()]
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        graphs = step_model is not None and step_model is not model
        for _ in range(n - 1):
            if graphs:  # CUDA graphs: this replay may overwrite the last one's outputs, which are copied below
                torch.compiler.cudagraph_mark_step_begin()
            out = d.step()
            d.advance(out)
            logits.append(logits_of(out)[:, -1].clone())  # a graph's output is reused by its next replay
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        tops = [torch.topk(lg.float(), min(TOP_K, lg.shape[-1]), dim=-1) for lg in logits]
        tokens = torch.stack([t.indices[:, 0] for t in tops], dim=1).cpu()
    return tokens, [(t.values.cpu(), t.indices.cpu()) for t in tops], seconds


def compare(eager_tokens, eager_tops, tokens, eps):
    """Per sequence: how many leading tokens agree with eager's, and at the first difference (if any)
    eager's margin for the patched token, its limit and whether that explains it. `passed`: every sequence
    agrees on its first MUST_AGREE tokens (or all, if fewer) or differs first where rounding decides."""
    sequences = []
    for b in range(eager_tokens.shape[0]):
        differ = (tokens[b] != eager_tokens[b]).nonzero()
        if differ.numel() == 0:
            sequences.append({"identical": int(tokens.shape[1])})
            continue
        t = int(differ[0])
        values, indices = eager_tops[t][0][b], eager_tops[t][1][b]
        ours = int(tokens[b, t])
        top1 = float(values[0])
        hit = (indices == ours).nonzero()
        margin = top1 - float(values[int(hit[0])]) if hit.numel() else float("inf")
        limit = 2 * eps * max(abs(top1), 1.0)
        sequences.append({"identical": t, "eager_token": int(eager_tokens[b, t]), "token": ours,
                          "margin": margin, "limit": limit, "explained": margin <= limit})
    must = min(MUST_AGREE, int(tokens.shape[1]))
    passed = all(s["identical"] >= must or s.get("explained", False) for s in sequences)
    return {"sequences": sequences, "passed": passed}


def compiled(model, decode_args, device, n):
    """Tokens and seconds of the decode steps through torch.compile(mode="reduce-overhead") with a static
    cache: a first run compiles and records the CUDA graph, the second is timed."""
    import torch

    torch._dynamo.reset()
    step = torch.compile(model, mode="reduce-overhead", dynamic=False)
    try:
        tokens, _, _ = generate(model, decode_args, device, n, static=True, step_model=step)
        _, _, seconds = generate(model, decode_args, device, n, static=True, step_model=step)
    finally:
        torch._dynamo.reset()
    return tokens, seconds


def _tensor_bytes(obj, seen, depth=0):
    """Bytes of the distinct tensors in obj: a KV cache's, in lists, tuples, dicts and attributes (a
    transformers DynamicCache's layers, a model's own cache tensors)."""
    import torch

    if isinstance(obj, torch.Tensor):
        if obj.data_ptr() in seen:
            return 0
        seen.add(obj.data_ptr())
        return obj.numel() * obj.element_size()
    if depth > 4 or isinstance(obj, (str, bytes, int, float, bool, type(None), torch.nn.Module)):
        return 0
    items = (obj if isinstance(obj, (list, tuple)) else obj.values() if isinstance(obj, dict)
             else vars(obj).values() if hasattr(obj, "__dict__") else ())
    return sum(_tensor_bytes(item, seen, depth + 1) for item in items)


def step_bytes(model, decode_args, device, n):
    """What one decode step must read, in bytes, on average over n tokens: {"weights", "cache", "total"}.
    Weights: every parameter once (an embedding table only the rows it looks up, unless the LM head shares
    it). The KV cache: its bytes per token of context (measured as one decode step's growth of the cache, or
    a preallocated cache's bytes over its length) times the mean context of the decode steps."""
    import torch

    linears = {m.weight.data_ptr() for m in model.modules() if isinstance(m, torch.nn.Linear)}
    seen, weights = set(), 0
    d = Decode(model, decode_args, device)
    for m in model.modules():
        for p in m.parameters(recurse=False):
            if p.data_ptr() in seen:
                continue
            seen.add(p.data_ptr())
            looked_up = isinstance(m, torch.nn.Embedding) and p.data_ptr() not in linears
            weights += (d.batch * p.shape[-1] if looked_up else p.numel()) * p.element_size()
    with torch.no_grad():
        d.run_prefill()
        before = _tensor_bytes(d.cache, set())
        d.advance(d.step())
        after = _tensor_bytes(d.cache, set())
    per_token = after - before if after > before else before / (d.prefill + d.steps)
    cache = per_token * (d.prefill + n / 2)
    return {"weights": weights, "cache": cache, "total": weights + cache}


def copy_gb_s(device):
    """The device's copy bandwidth [GB/s], measured exactly as `autokernel suite` measures its copy ceiling."""
    from autokernel_support import suite_baselines

    return suite_baselines.copy_ceiling(suite_baselines.Timer(device), device)["copy_gb_s"]


def check(model, ak, args, device, dtype, say, check_calls, time_shapes=None):
    """The generation check on `model` (unpatched on entry and on return); returns verify.json's
    "generation" entry. check_calls(log) takes the per-call check of the patched run; time_shapes(samples)
    (on a GPU) times the decode step's call shapes, ours against PyTorch's formula, before the timed runs:
    a kernel faster at the prefill's rows may be slower at one token's (fused_mlp's GEMM path at M = 1)."""
    import torch

    n = args.generate
    # The prompt is the forward check's token ids [B, L] (a decode profile's batch and prefill length).
    decode_args = argparse.Namespace(decode=n, prefill=0, input_shape=args.input_shape, inputs=None)
    eager_tokens, eager_tops, _ = generate(model, decode_args, device, n)
    _, _, eager_s = generate(model, decode_args, device, n)  # timed on a warm run
    batch = eager_tokens.shape[0]
    ak.patch(model)
    try:
        ak.reset_stats()
        with ak.checking():
            tokens, _, _ = generate(model, decode_args, device, n)
        log = ak.check_log()
        if time_shapes is not None:
            say("each call shape of the decode step alone, our kernel against PyTorch's formula:")
            time_shapes(ak.samples())
        ak.reset_stats()
        _, _, ours_s = generate(model, decode_args, device, n)
        calls = ak.stats()  # as timed: with the decode step's shapes decided
    finally:
        ak.unpatch(model)
    steps = max(n - 1, 1)
    eps = torch.finfo(dtype).eps
    rate = {"eager": batch * steps / eager_s, "autokernel": batch * steps / ours_s}
    result = compare(eager_tokens, eager_tops, tokens, eps)
    graphs = {}
    if device.type == "cuda" and Decode(model, decode_args, device).hf:
        for label, patched in (("compiled", False), ("autokernel_compiled", True)):
            if patched:
                ak.patch(model)
            try:
                graph_tokens, seconds = compiled(model, decode_args, device, n)
                rate[label] = batch * steps / seconds
                graphs[label] = compare(eager_tokens, eager_tops, graph_tokens, eps)
            except Exception as e:  # noqa: BLE001  (reported: the eager checks still decide)
                graphs[label] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
            finally:
                if patched:
                    ak.unpatch(model)
        if not graphs["autokernel_compiled"].get("passed", True):
            result["passed"] = False
    # The decode step streams the weights and the cache: its bytes over its time, against the copy bandwidth.
    read = step_bytes(model, decode_args, device, n)
    ceiling = copy_gb_s(device)
    streamed = {label: read["total"] * r / batch / 1e9 for label, r in rate.items()}
    result.update(tokens=n, batch=batch, calls=calls, tokens_per_s=rate, cuda_graphs=graphs,
                  step_bytes=read, copy_gb_s=ceiling, streamed_gb_s=streamed)

    def stream(label):
        return f"{streamed[label]:7.0f} GB/s read ({100 * streamed[label] / ceiling:4.1f}% of the copy bandwidth)"

    say(f"generation: {n} tokens greedily after the prompt, batch {batch}; a decode step reads "
        f"{read['weights'] / 1e9:.3f} GB of weights and {read['cache'] / 1e9:.3f} GB of KV cache on average; "
        f"copy bandwidth {ceiling:.0f} GB/s")
    say(f"  eager        {rate['eager']:10.1f} tokens/s   {stream('eager')}")
    say(f"  autokernel   {rate['autokernel']:10.1f} tokens/s ({rate['autokernel'] / rate['eager']:.3f}x)   "
        f"{stream('autokernel')}   calls {calls or 'none'}")
    for label, text in (("compiled", "torch.compile reduce-overhead (CUDA graphs, static cache)"),
                        ("autokernel_compiled", "autokernel inside it")):
        if label in rate:
            agree = "tokens as eager's" if graphs[label]["passed"] else "tokens NOT as eager's"
            say(f"  {text:<58} {rate[label]:10.1f} tokens/s   {stream(label)}   {agree}")
        elif label in graphs:
            say(f"  {text}: could not run: {graphs[label]['error']}")
    check_calls(log)
    for b, s in enumerate(result["sequences"]):
        if "margin" not in s:
            say(f"  sequence {b}: all {s['identical']} tokens identical to eager's")
            continue
        verdict = "within rounding" if s["explained"] else "NOT explained by rounding"
        say(f"  sequence {b}: first {s['identical']} tokens identical; then eager {s['eager_token']}, "
            f"autokernel {s['token']}, eager's margin {s['margin']:.3e} vs limit {s['limit']:.3e}: {verdict}")
    return result

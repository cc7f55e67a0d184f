"""make_inputs for examples/models/llama.py that returns a KV cache among the forward's keyword arguments: the
prompt's keys and values are filled in once, and every step decodes one token at position shape[1] (each
writes the same cache slot, so the cache length is the same at every step)."""
import torch


def make_inputs(model, shape, device):
    batch, prompt_len = shape
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, model.embed.num_embeddings, (batch, prompt_len), generator=g).to(device)
    cache = model.new_cache(batch, prompt_len + 1)
    with torch.no_grad():
        model(prompt, cache, start_pos=0)
    return {"tokens": prompt[:, -1:], "cache": cache, "start_pos": prompt_len}

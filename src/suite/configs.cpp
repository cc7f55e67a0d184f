#include "suite/configs.hpp"

#include <algorithm>
#include <charconv>

#include "catalog/kernel_type.hpp"

namespace ak::suite {
namespace {

/// The row-wise types share one set: square, tall, a LLaMA-7B activation block and one odd size that no
/// power-of-two tiling divides.
std::vector<catalog::Shape> rowwise() {
  return {{"8k_sq", {8192, 8192}},
          {"16k_8k", {16384, 8192}},
          {"4k_sq", {4096, 4096}},
          {"llama7b_rows", {2048, 4096}},
          {"odd", {4097, 1537}}};
}

}  // namespace

std::vector<catalog::Shape> default_shapes(const std::string& type) {
  if (type == "rmsnorm" || type == "add_rmsnorm" || type == "layernorm" || type == "softmax" || type == "reduce") {
    return rowwise();
  }
  if (type == "cross_entropy") {
    return {{"llama_8k", {8192, 32000}},
            {"gpt2_8k", {8192, 50257}},
            {"llama_4k", {4096, 32000}},
            {"odd_gpt2", {1023, 50257}}};
  }
  if (type == "rotary_embedding") {
    // Interleaved multi-head as before, and Llama-3-8B's rotate-half over 8 kv heads.
    return {{"llama7b", {1, 32, 2048, 128, 32, 0}},
            {"long", {2, 32, 4096, 128, 32, 0}},
            {"gptj", {4, 16, 1024, 64, 16, 0}},
            {"llama3_8b", {1, 32, 2048, 128, 8, 1}}};
  }
  if (type == "matmul") {
    return {{"2k_cube", {2048, 2048, 2048}},
            {"4k_cube", {4096, 4096, 4096}},
            {"8k_cube", {8192, 8192, 8192}},
            // LLaMA-7B's projections as a model's F.linear makes them (linear form 1: B = W^T, the weight as it is).
            {"qkv", {2048, 12288, 4096, 1}},
            {"up", {2048, 11008, 4096, 1}},
            {"down", {2048, 4096, 11008, 1}},
            // With the residual add after it in the epilogue (the compiled graph's fusion): LLaMA-7B's wo and w2,
            // GPT-2-large's c_proj (Conv1D, a bias too). Eager and torch.compile run the GEMM, then the add.
            {"o_residual", {2048, 4096, 4096, 1, 0, 1}},
            {"down_residual", {2048, 4096, 11008, 1, 0, 1}},
            {"gpt2_large_proj_residual", {2048, 1280, 1280, 0, 1, 1}}};
  }
  if (type == "flash_attention") {
    return {{"d128", {4, 32, 2048, 128, 0}},
            {"d128_causal", {4, 32, 2048, 128, 1}},
            {"d64", {8, 16, 2048, 64, 0}},
            {"d64_causal", {8, 16, 2048, 64, 1}}};
  }
  if (type == "skinny_gemm") {
    // Decode steps of 1, 8 and 32 tokens at Llama-3-8B's q/o projection, its MLP's gate/up and its LM head.
    return {{"m1_qo", {1, 4096, 4096}},        {"m8_qo", {8, 4096, 4096}},        {"m32_qo", {32, 4096, 4096}},
            {"m1_up", {1, 14336, 4096}},       {"m8_up", {8, 14336, 4096}},       {"m32_up", {32, 14336, 4096}},
            {"m1_lm_head", {1, 128256, 4096}}, {"m8_lm_head", {8, 128256, 4096}}, {"m32_lm_head", {32, 128256, 4096}}};
  }
  if (type == "gelu") {
    // GPT-2's MLP activation at 2048 tokens (GPT-2 small's 3072 wide, a 1280-wide model's 5120), both forms.
    return {{"gpt2_tanh", {2048, 3072, 1}},
            {"gpt2_large_tanh", {2048, 5120, 1}},
            {"gpt2_large_erf", {2048, 5120, 0}},
            {"8k_sq_tanh", {8192, 8192, 1}},
            {"odd_tanh", {4097, 1537, 1}}};
  }
  if (type == "decode_attention") {
    // Llama-3-8B's decode step (32 query heads over 8 kv heads, D 128) at batch 1, 8, 32 and caches of 512 and 4096;
    // 32768 at batch 1 and 8 (batch 32's cache is 4 GiB a layer in bf16).
    return {{"b1_l512", {1, 32, 512, 128, 512, 8}},     {"b8_l512", {8, 32, 512, 128, 512, 8}},
            {"b32_l512", {32, 32, 512, 128, 512, 8}},   {"b1_l4k", {1, 32, 4096, 128, 4096, 8}},
            {"b8_l4k", {8, 32, 4096, 128, 4096, 8}},    {"b32_l4k", {32, 32, 4096, 128, 4096, 8}},
            {"b1_l32k", {1, 32, 32768, 128, 32768, 8}}, {"b8_l32k", {8, 32, 32768, 128, 32768, 8}}};
  }
  if (type == "fused_mlp") {
    // SwiGLU at LLaMA-7B's widths; GeGLU (the tanh form, ACT 1) at Gemma-7B's and a Gemma-2B-like 2048 wide.
    return {{"llama7b", {2048, 4096, 11008}},
            {"llama7b_4k", {4096, 4096, 11008}},
            {"gemma7b", {2048, 3072, 24576, 1}},
            {"gemma2b", {2048, 2048, 16384, 1}}};
  }
  return {};
}

std::vector<std::string> default_dtypes() { return {"f16", "bf16"}; }

std::string config_label(const std::string& label, const std::vector<int64_t>& dims, std::size_t width) {
  const auto shape = catalog::shape_string(dims);
  if (label == shape) return shape;
  const auto both = label + " " + shape;
  return both.size() > width ? label : both;
}

std::vector<std::string> split_list(const std::string& text, char sep) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos <= text.size();) {
    auto end = text.find(sep, pos);
    if (end == std::string::npos) end = text.size();
    auto item = text.substr(pos, end - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    pos = end + 1;
  }
  return out;
}

Expected<std::vector<std::string>> parse_types(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& name : split_list(text)) {
    if (auto t = catalog::find_type(name); !t) return std::unexpected(t.error());
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  if (out.empty()) return fail("--types names no kernel type");
  return out;
}

Expected<std::vector<int64_t>> parse_dims(const std::string& text) {
  std::vector<int64_t> dims;
  for (const auto& d : split_list(text, 'x')) {
    int64_t v = -1;
    const auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
    if (ec != std::errc() || end != d.data() + d.size() || v < 0) return fail(fmt::format("'{}' is not a size", d));
    dims.push_back(v);
  }
  if (catalog::shape_string(dims) != text) return fail("DIMS are sizes joined by 'x', e.g. 64x128");
  return dims;
}

Expected<ConfigList> parse_configs(const std::string& text) {
  ConfigList out;
  const auto items = split_list(text);
  if (items.empty())
    return fail("--configs names no configuration", "e.g. --configs softmax:64x128,matmul:256x256x256");
  for (const auto& item : items) {
    auto bad = [&](const std::string& why) {
      return fail(fmt::format("bad --configs item '{}': {}", item, why),
                  "e.g. --configs softmax:64x128,matmul:256x256x256");
    };
    const auto colon = item.find(':');
    if (colon == std::string::npos) return bad("expected TYPE:DIMS");
    auto type = catalog::find_type(item.substr(0, colon));
    if (!type) return std::unexpected(type.error().context(fmt::format("--configs item '{}'", item)));
    const auto& t = **type;
    const auto dims_text = item.substr(colon + 1);
    auto dims = parse_dims(dims_text);
    if (!dims) return bad(dims.error().message);
    catalog::Shape shape{dims_text, *dims};
    const auto dims_names = catalog::dim_names(t.dims_doc());
    const auto& names = dims_names.names;
    if (shape.dims.size() < dims_names.required || shape.dims.size() > names.size()) {
      const auto count = dims_names.required == names.size()
                             ? std::to_string(names.size())
                             : fmt::format("{} to {}", dims_names.required, names.size());
      return bad(fmt::format("{} takes {} dims ({}), got {}", t.name(), count, t.dims_doc(), shape.dims.size()));
    }
    for (std::size_t i = 0; i < shape.dims.size(); ++i) {
      // attention's causal, rotary's style, gelu's approximate and matmul's bias and residual are flags; matmul's
      // linear is a form (0, 1 or 2: its dims_error says); every other dim a size
      const auto& n = names[i];
      const bool is_flag = n == "causal" || n == "style" || n == "approximate" || n == "bias" || n == "residual";
      if (n == "linear") continue;
      if (is_flag ? shape.dims[i] > 1 : shape.dims[i] == 0) {
        return bad(fmt::format("{} must be {}", n, is_flag ? "0 or 1" : "positive"));
      }
    }
    if (const auto why = t.dims_error(shape.dims); !why.empty()) return bad(why);
    auto known = std::find_if(out.begin(), out.end(), [&](const TypeShapes& c) { return c.type == t.name(); });
    if (known == out.end()) known = out.insert(out.end(), {std::string(t.name()), {}});
    known->shapes.push_back(shape);
  }
  return out;
}

}  // namespace ak::suite

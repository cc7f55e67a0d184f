#include "profile/op_types.hpp"

#include <functional>
#include <numeric>
#include <regex>
#include <unordered_map>

namespace ak::profile {
namespace {

using Dims = std::vector<int64_t>;

Dims input_dims(const CpuEvent& op, std::size_t i) {
  const auto it = op.args.find("Input Dims");
  if (it == op.args.end() || !it->is_array() || i >= it->size() || !(*it)[i].is_array()) return {};
  Dims d;
  for (const auto& x : (*it)[i]) {
    if (!x.is_number_integer()) return {};
    d.push_back(x.get<int64_t>());
  }
  return d;
}

std::string input_type(const CpuEvent& op, std::size_t i) {
  const auto it = op.args.find("Input type");
  if (it == op.args.end() || !it->is_array() || i >= it->size() || !(*it)[i].is_string()) return "";
  return (*it)[i].get<std::string>();
}

std::string concrete(const CpuEvent& op, std::size_t i) {
  const auto it = op.args.find("Concrete Inputs");
  if (it == op.args.end() || !it->is_array() || i >= it->size() || !(*it)[i].is_string()) return "";
  return (*it)[i].get<std::string>();
}

int64_t product(const Dims& d, std::size_t from, std::size_t to) {
  return std::accumulate(d.begin() + from, d.begin() + to, int64_t{1}, std::multiplies<>());
}

bool is_floating(std::string_view recorded) {
  const auto d = dtype_of(recorded);
  return d == "f16" || d == "bf16" || d == "f32";
}

/// Rows x last dim: the M,N of the row-wise types (norms, softmax, reduce over the last dim).
std::optional<Classified> rows(std::string type, const Dims& x, std::string dtype) {
  if (x.empty()) return std::nullopt;
  return Classified{std::move(type), {product(x, 0, x.size() - 1), x.back()}, std::move(dtype), ""};
}

/// "[-1]", "-1", "[1, 2]" -> the first dim, normalised against `rank`; nullopt for "" (all dims).
std::optional<int64_t> first_dim_arg(const std::string& text, std::size_t rank) {
  std::smatch m;
  static const std::regex k_int("-?[0-9]+");
  if (!std::regex_search(text, m, k_int)) return std::nullopt;
  auto d = std::stoll(m.str());
  if (d < 0) d += static_cast<int64_t>(rank);
  if (d < 0 || d >= static_cast<int64_t>(rank)) return std::nullopt;
  return d;
}

/// The row-wise problem along `dim`: N = its size, M = everything else (same work as the last-dim form).
std::optional<Classified> along(std::string type, const Dims& x, std::optional<int64_t> dim, std::string dtype) {
  if (x.empty()) return std::nullopt;
  if (!dim) return rows(std::move(type), x, std::move(dtype));
  const auto n = x[*dim];
  const auto numel = product(x, 0, x.size());
  return Classified{std::move(type),
                    {n > 0 ? numel / n : 0, n},
                    std::move(dtype),
                    *dim == static_cast<int64_t>(x.size()) - 1 ? "" : fmt::format("reduced over dim {}", *dim)};
}

std::optional<Classified> matmul(const CpuEvent& op) {
  const auto& name = op.name;
  // Which inputs are A and B: addmm/baddbmm carry the bias first; linear's weight is [N, K].
  const std::size_t a_i = (name == "aten::addmm" || name == "aten::baddbmm") ? 1 : 0;
  const Dims a = input_dims(op, a_i), b = input_dims(op, a_i + 1);
  if (a.empty() || b.empty()) return std::nullopt;
  const int64_t K = a.back();
  const int64_t M = product(a, 0, a.size() - 1);
  int64_t N = 0;
  std::string note;
  if (name == "aten::linear") {
    N = b.size() == 1 ? 1 : b.front();
  } else {
    N = b.size() == 1 ? 1 : b.back();
    if (b.size() > 2) {
      // Batched on both sides (bmm, q @ k^T): the same work as one matmul with the batch folded into M.
      note = "batched: the batch is folded into M";
    }
  }
  Classified c{"matmul", {M, N, K}, dtype_of(input_type(op, a_i)), note};
  // A bias of one value per column (addmm's first input, linear's third): the catalogue's 5th dim, which the exported
  // ops hand the kernel to add in its epilogue.
  const Dims bias = name == "aten::addmm" ? input_dims(op, 0) : name == "aten::linear" ? input_dims(op, 2) : Dims{};
  if (bias.size() == 1 && bias[0] == N) c.dims.insert(c.dims.end(), {0, 1});
  return c;
}

/// F.linear (aten::linear) of at most k_skinny_rows rows of x: a decode step's linear layer, skinny_gemm's M,N,K
/// (the weight [N, K] as it is: the exported package routes these calls). A 2-D mm/addmm stays matmul's: its
/// second operand is [K, N] (GPT-2's Conv1D), which the package routes to the matmul op, never to skinny_gemm.
std::optional<Classified> as_skinny(const CpuEvent& op, const Classified& c) {
  constexpr int64_t k_skinny_rows = 64;  // a decode batch's tokens (kinds/skinny_gemm.py's MAX_ROWS)
  if (op.name != "aten::linear" || input_dims(op, 1).size() != 2) return std::nullopt;
  if (c.dims[0] < 1 || c.dims[0] > k_skinny_rows) return std::nullopt;
  return Classified{"skinny_gemm", {c.dims[0], c.dims[1], c.dims[2]}, c.dtype, ""};
}

/// One query per sequence against a cache of keys (q [B, H, 1, D], k [B, HKV, L, D]): a decode step's attention,
/// decode_attention's B,H,S,D,L[,HKV] with the whole of k valid (S = L). Causal with more than one key is not that
/// (SDPA's mask is upper-left: the query would see key 0 alone), nor are kv heads SDPA cannot group.
std::optional<Classified> decode_attention(const Dims& q, const Dims& k, bool causal, bool gqa_allowed,
                                           std::string dtype, std::string note) {
  if (causal && k[2] > 1) return std::nullopt;
  Dims dims = {q[0], q[1], k[2], q[3], k[2]};
  if (k[1] != q[1]) {
    if (k[1] < 1 || q[1] % k[1] != 0 || !gqa_allowed) return std::nullopt;
    dims.push_back(k[1]);
  }
  return Classified{"decode_attention", std::move(dims), std::move(dtype), std::move(note)};
}

std::optional<Classified> attention(const CpuEvent& op) {
  // Where each variant keeps is_causal (aten's signatures).
  static const std::unordered_map<std::string, std::size_t> k_causal_arg = {
      {"aten::scaled_dot_product_attention", 5},
      {"aten::_scaled_dot_product_flash_attention", 4},
      {"aten::_scaled_dot_product_flash_attention_for_cpu", 4},
      {"aten::_scaled_dot_product_efficient_attention", 6},
      {"aten::_scaled_dot_product_cudnn_attention", 6}};
  const Dims q = input_dims(op, 0);
  if (q.size() != 4) return std::nullopt;  // [B, H, S, D]
  const auto it = k_causal_arg.find(op.name);
  const bool causal = it != k_causal_arg.end() && concrete(op, it->second) == "True";
  const bool sdpa = op.name == "aten::scaled_dot_product_attention";
  Dims dims = {q[0], q[1], q[2], q[3], causal ? 1 : 0};
  std::string note;
  auto add_note = [&](const std::string& text) { note += (note.empty() ? "" : "; ") + text; };
  const bool explicit_mask = !input_dims(op, 3).empty() && sdpa;
  if (const Dims k = input_dims(op, 1); k.size() == 4 && q[2] == 1 && k[0] == q[0] && k[3] == q[3]) {
    return decode_attention(q, k, causal, !sdpa || concrete(op, 7) != "False", dtype_of(input_type(op, 0)),
                            explicit_mask ? "with an explicit mask" : "");
  }
  if (const Dims k = input_dims(op, 1); k.size() == 4) {
    // Grouped-query attention: fewer kv heads than query heads, each shared by a group (SDPA with
    // enable_gqa=True, its 8th argument; the flash variants take it natively). HKV is the 6th dim.
    const bool gqa_allowed = !sdpa || concrete(op, 7) != "False";
    if (k[1] != q[1] && k[1] > 0 && q[1] % k[1] == 0 && gqa_allowed) {
      dims.push_back(k[1]);
    } else if (k[1] != q[1]) {
      add_note(fmt::format("keys have {} heads, queries {}", k[1], q[1]));
    }
    // Keys of another length (cross-attention, or several new tokens against a cache): the type's q and k share
    // S, so its kernels cannot take the call (nor can the exported op); the op stays an uncovered row. One
    // query token against the cache is decode_attention's (above).
    if (k[2] != q[2]) return std::nullopt;
  }
  if (explicit_mask) add_note("with an explicit mask");
  return Classified{"flash_attention", std::move(dims), dtype_of(input_type(op, 0)), note};
}

/// Elementwise GELU of x (rows x last dim) in `approximate`'s form: "tanh" (as recorded, "'tanh'"), "none", or
/// "" where the profiler kept no string (the erf form, aten's default, assumed and said).
std::optional<Classified> gelu(const Dims& x, const std::string& approximate, std::string dtype) {
  auto c = rows("gelu", x, std::move(dtype));
  if (!c) return c;
  const bool tanh = approximate.find("tanh") != std::string::npos;
  c->dims.push_back(tanh ? 1 : 0);
  if (approximate.empty()) c->note = "approximate not recorded: the erf form assumed";
  return c;
}

std::optional<Classified> cross_entropy(const CpuEvent& op) {
  const Dims x = input_dims(op, 0);
  if (x.size() < 2) return std::nullopt;
  const auto dtype = dtype_of(input_type(op, 0));
  if (op.name == "aten::log_softmax" || op.name == "aten::_log_softmax") return rows("cross_entropy", x, dtype);
  // [N, C] or [N, C, d1, ...]: the classes are dim 1.
  const auto V = x[1];
  return Classified{"cross_entropy", {V > 0 ? product(x, 0, x.size()) / V : 0, V}, dtype, ""};
}

}  // namespace

std::string dtype_of(std::string_view recorded) {
  if (recorded == "float") return "f32";
  if (recorded == "c10::Half") return "f16";
  if (recorded == "c10::BFloat16") return "bf16";
  if (recorded == "double") return "f64";
  return std::string(recorded);
}

std::string type_of_op(std::string_view name) {
  static const std::unordered_map<std::string_view, std::string_view> k_types = {
      {"aten::mm", "matmul"},
      {"aten::addmm", "matmul"},
      {"aten::linear", "matmul"},
      {"aten::matmul", "matmul"},
      {"aten::bmm", "matmul"},
      {"aten::baddbmm", "matmul"},
      {"aten::scaled_dot_product_attention", "flash_attention"},
      {"aten::_scaled_dot_product_flash_attention", "flash_attention"},
      {"aten::_scaled_dot_product_flash_attention_for_cpu", "flash_attention"},
      {"aten::_scaled_dot_product_efficient_attention", "flash_attention"},
      {"aten::_scaled_dot_product_cudnn_attention", "flash_attention"},
      {"aten::softmax", "softmax"},
      {"aten::_softmax", "softmax"},
      {"aten::_safe_softmax", "softmax"},
      {"aten::layer_norm", "layernorm"},
      {"aten::native_layer_norm", "layernorm"},
      {"aten::rms_norm", "rmsnorm"},
      {"aten::_fused_rms_norm", "rmsnorm"},
      {"aten::cross_entropy_loss", "cross_entropy"},
      {"aten::nll_loss", "cross_entropy"},
      {"aten::nll_loss_nd", "cross_entropy"},
      {"aten::nll_loss_forward", "cross_entropy"},
      {"aten::log_softmax", "cross_entropy"},
      {"aten::_log_softmax", "cross_entropy"},
      {"aten::sum", "reduce"},
      {"aten::mean", "reduce"},
      {"aten::amax", "reduce"},
      {"aten::gelu", "gelu"}};
  const auto it = k_types.find(name);
  return it == k_types.end() ? "" : std::string(it->second);
}

std::optional<Classified> classify_op(const CpuEvent& op) {
  const auto type = type_of_op(op.name);
  if (type.empty()) return std::nullopt;
  const Dims x = input_dims(op, 0);
  const auto dtype = dtype_of(input_type(op, 0));
  if (type == "matmul") {
    auto c = matmul(op);
    if (const auto skinny = c ? as_skinny(op, *c) : std::nullopt) return skinny;
    // Our linear op takes x and the weight [N, K] as they are (B = W^T K-major) and, for an N that is not a multiple
    // of 8 (GPT-2's vocabulary 50257: rows no GEMM stores aligned), runs y^T = W x^T instead, M and N swapped. The
    // run must time the kernel at the problem the model will give it: the catalogue's linear forms 1 and 2
    // (catalog/matmul.cpp, kinds/matmul.py).
    if (c && op.name == "aten::linear") {
      const int64_t M = c->dims[0], N = c->dims[1], K = c->dims[2];
      if (N % 8 == 0) {
        const bool bias = c->dims.size() > 3;  // matmul() found one per column: the 5th dim
        c->dims = bias ? Dims{M, N, K, 1, 1} : Dims{M, N, K, 1};
        c->note = "as our linear op runs it: x W^T, the weight as it is";
      } else {
        c->dims = {N, M, K, 2};  // the bias is added after the kernel (catalog/matmul.cpp)
        c->note = "as our linear op runs it: y^T = W x^T (N not a multiple of 8)";
      }
    }
    return c;
  }
  if (type == "flash_attention") return attention(op);
  if (type == "cross_entropy") {
    // nll_loss's input is already log-probabilities: a cross-entropy with its softmax done elsewhere.
    return cross_entropy(op);
  }
  if (type == "gelu") return gelu(x, concrete(op, 1), dtype);
  if (type == "softmax") return along(type, x, first_dim_arg(concrete(op, 1), x.size()), dtype);
  if (type == "reduce") {
    if (concrete(op, 1).empty() && input_type(op, 1).empty()) {
      // sum(x) / mean(x) over every element: one row.
      return Classified{type, {1, x.empty() ? 1 : product(x, 0, x.size())}, dtype, "reduced over all elements"};
    }
    return along(type, x, first_dim_arg(concrete(op, 1), x.size()), dtype);
  }
  return rows(type, x, dtype);  // layernorm, rmsnorm: normalised over the last dim
}

std::optional<Classified> classify_add(const CpuEvent& op) {
  const Dims a = input_dims(op, 0), b = input_dims(op, 1);
  const auto dtype = input_type(op, 0);
  if (a.empty() || a != b || dtype != input_type(op, 1) || !is_floating(dtype)) return std::nullopt;
  return rows("add", a, dtype_of(dtype));
}

const std::vector<ChainRule>& chain_rules() {
  // The residual add of a pre-norm block and the RMSNorm of its result (across layers too).
  static const std::vector<ChainRule> rules = {{"add_rmsnorm", {"aten::add", "aten::add_"}, classify_add, "rmsnorm"}};
  return rules;
}

const std::vector<EpilogueRule>& epilogue_rules() {
  // F.linear (form 1, x W^T) or GPT-2's Conv1D addmm (form 0), then the residual add: matmul with its 6th dim,
  // residual (catalog/matmul.cpp). Form 2 (y^T = W x^T) is not fused (its output is y^T).
  static const std::vector<EpilogueRule> rules = {
      {"matmul",
       {"aten::linear", "aten::addmm"},
       {"aten::view", "aten::reshape", "aten::_unsafe_view", "aten::dropout", "aten::alias"},
       {"aten::add", "aten::add_"},
       [](const Classified& head, const Classified& add) {
         const auto& d = head.dims;
         const int64_t form = d.size() > 3 ? d[3] : 0;
         const bool residual = d.size() > 5 && d[5] != 0;
         return form != 2 && !residual && add.dims == Dims{d[0], d[1]} && add.dtype == head.dtype;
       },
       [](Classified& head) {
         head.dims.resize(6, 0);
         head.dims[5] = 1;
         head.note += head.note.empty() ? "" : "; ";
         head.note += "the residual add after it in the epilogue (inside torch.compile)";
       }}};
  return rules;
}

std::optional<Classified> classify_scope(const Trace& t, int scope) {
  const auto& s = t.cpu[scope];
  if (s.kind != CpuKind::scope) return std::nullopt;
  // A scope that names its kernel type (ak.kind) is that type; a module scope is judged by its class name.
  const bool declared = !s.kind_type.empty();
  std::string type;
  if (declared) {
    type = s.kind_type;
  } else if (s.module_class.empty()) {
    return std::nullopt;
  } else {
    static const std::regex k_rmsnorm("rms_?norm", std::regex::icase);
    static const std::regex k_rotary("rotary|rope", std::regex::icase);
    static const std::regex k_mlp("swiglu|mlp|feed_?forward|ffn", std::regex::icase);
    if (std::regex_search(s.module_class, k_rmsnorm)) {
      type = "rmsnorm";
    } else if (std::regex_search(s.module_class, k_rotary)) {
      type = "rotary_embedding";
    } else if (std::regex_search(s.module_class, k_mlp)) {
      type = "fused_mlp";
    } else {
      return std::nullopt;
    }
  }
  // The ops the scope ran, in time order (outer ops before the ops they call).
  std::vector<int> ops;
  std::function<void(int)> walk = [&](int i) {
    for (int c : t.cpu[i].children) {
      if (t.cpu[c].kind == CpuKind::op) ops.push_back(c);
      walk(c);
    }
  };
  walk(scope);
  if (type == "rmsnorm") {
    for (int i : ops) {
      const auto x = input_dims(t.cpu[i], 0);
      if (x.size() >= 2 && is_floating(input_type(t.cpu[i], 0)))
        return rows(type, x, dtype_of(input_type(t.cpu[i], 0)));
    }
    return std::nullopt;
  }
  if (type == "rotary_embedding") {
    // q is the first 4-d floating input; k the first later one with q's B, S and D but other heads (none:
    // k has H heads too, or the scope rotated q alone, and HKV = H either way).
    Dims q;
    std::string dtype;
    int64_t kv_heads = -1;
    bool neg_of_half = false, cat = false;
    for (int i : ops) {
      const auto x = input_dims(t.cpu[i], 0);
      if (t.cpu[i].name == "aten::cat") cat = true;
      if (x.size() != 4 || !is_floating(input_type(t.cpu[i], 0))) continue;
      if (q.empty()) {
        q = x;
        dtype = dtype_of(input_type(t.cpu[i], 0));
        continue;
      }
      if (t.cpu[i].name == "aten::neg" && x[3] * 2 == q[3]) neg_of_half = true;
      if (kv_heads < 0 && x[0] == q[0] && x[2] == q[2] && x[3] == q[3] && x[1] != q[1]) kv_heads = x[1];
    }
    if (q.empty()) return std::nullopt;  // e.g. a module that only builds the cos/sin tables
    // The pairing: as declared ("half": rotate-half); for a module, rotate_half's cat(-x2, x1) says it.
    const bool half = declared ? s.kind_variant == "half" : neg_of_half && cat;
    std::string note = "assumes the [B, H, S, D] layout";
    if (kv_heads < 0) note += "; HKV = H (no k with other heads seen)";
    if (!declared && half) note += "; rotate-half seen in its ops (neg and cat of half rows)";
    return Classified{type, {q[0], q[1], q[2], q[3], kv_heads < 0 ? q[1] : kv_heads, half ? 1 : 0}, dtype, note};
  }
  if (type == "gelu") {
    // Only declared (the package's module route): x is the first floating input of its ops (GPT-2's
    // NewGELUActivation runs mul, pow, add, tanh on it), the form is the variant.
    for (int i : ops) {
      const auto x = input_dims(t.cpu[i], 0);
      if (!x.empty() && is_floating(input_type(t.cpu[i], 0)))
        return gelu(x, s.kind_variant, dtype_of(input_type(t.cpu[i], 0)));
    }
    return std::nullopt;
  }
  if (type != "fused_mlp") return std::nullopt;  // a declared type without a scope form here: its ops count one by one
  // fused_mlp: a SwiGLU MLP runs silu and (at least) three matmuls, a GeGLU one (Gemma's) aten::gelu and three
  // matmuls whose first two read the same x into the same width (gate and up: not layers in a row). Other GELU
  // MLPs are left to their parts. A declared one needs only the matmuls (its gate may be computed without
  // aten::silu), its activation named by the variant: "gelu_tanh" ACT 1, "gelu_erf" ACT 2, else silu.
  bool silu = false;
  int gelu_op = -1;
  std::vector<int> matmuls;
  for (int i : ops) {
    if (t.cpu[i].name == "aten::silu" || t.cpu[i].name == "aten::silu_") silu = true;
    if (gelu_op < 0 && (t.cpu[i].name == "aten::gelu" || t.cpu[i].name == "aten::gelu_")) gelu_op = i;
    // Count outermost matmul ops only (linear calls matmul calls mm).
    const int p = t.cpu[i].parent;
    const bool outer = p < 0 || t.cpu[p].kind != CpuKind::op || type_of_op(t.cpu[p].name) != "matmul";
    if (type_of_op(t.cpu[i].name) == "matmul" && outer) matmuls.push_back(i);
  }
  // A declared one may fuse gate and up into one projection E -> 2F (Phi-3's gate_up_proj): two matmuls.
  const bool geglu = !declared && !silu && gelu_op >= 0;
  if ((!silu && !geglu && !declared) || matmuls.size() < (declared ? 2u : 3u)) return std::nullopt;
  auto first = matmul(t.cpu[matmuls.front()]);
  if (!first) return std::nullopt;
  if (geglu) {
    const auto second = matmul(t.cpu[matmuls[1]]);
    if (!second || second->dims != first->dims) return std::nullopt;
  }
  // The activation (catalog/fused_mlp.cpp's ACT): declared by the variant, or read from aten::gelu's approximate.
  int64_t act = 0;
  std::string note;
  if (declared) {
    act = s.kind_variant == "gelu_tanh" ? 1 : s.kind_variant == "gelu_erf" ? 2 : 0;
  } else if (geglu) {
    const auto approximate = concrete(t.cpu[gelu_op], 1);
    act = approximate.find("tanh") != std::string::npos ? 1 : 2;
    if (approximate.empty()) note = "GELU's approximate not recorded: the erf form assumed";
  }
  // The gate projection: [M, E] x [E -> F], or the fused one [M, E] x [E -> 2F].
  const bool fused = matmuls.size() == 2;
  if (fused && first->dims[1] % 2 != 0) return std::nullopt;
  if (fused) note = "gate and up projections fused into one matmul";
  Dims dims = {first->dims[0], first->dims[2], fused ? first->dims[1] / 2 : first->dims[1]};
  if (act != 0) dims.push_back(act);  // silu's shapes stay M,E,F
  return Classified{type, std::move(dims), first->dtype, note};
}

}  // namespace ak::profile

// Which of our kernel types an operator call or a module is, and the model's own problem size in that
// type's dims (catalog KernelType::dims_doc), read from the shapes torch.profiler recorded. By the
// operator's name, never by the GPU kernel's name: a kernel is attributed to the op that launched it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profile/trace.hpp"

namespace ak::profile {

/// A call expressed as one of our kernel types.
struct Classified {
  std::string type;           ///< catalog type name
  std::vector<int64_t> dims;  ///< in the type's dims (matmul: M,N,K)
  std::string dtype;          ///< "f16", "bf16", "f32" (or the recorded name if none of these)
  std::string note;           ///< how the shape was folded, e.g. "batched: B folded into M"
};

/// The catalog type an aten op belongs to by its name ("aten::addmm" -> "matmul"), "" if none.
std::string type_of_op(std::string_view op_name);

/// A supported op's problem size from its recorded inputs; nullopt if the op is not ours or its inputs
/// were not recorded (a trace without record_shapes) or do not fit the type. An aten::linear of at most 64
/// rows of x (a decode step's) is skinny_gemm, not the matmul that type_of_op names; an attention of one query
/// token per sequence (a decode step's, against the KV cache) is decode_attention, not flash_attention.
std::optional<Classified> classify_op(const CpuEvent& op);

/// An elementwise add of two tensors of one shape and one floating dtype, as rows x last dim (the dims of
/// the norm that may read its result); nullopt for a broadcasting add, an add of a scalar, or unknown shapes.
std::optional<Classified> classify_add(const CpuEvent& op);

/// A chain that one fusion type does, as the profile reads it from the op sequence: a head op (one of
/// `head_ops`, classified by `head`) whose next op or claiming scope on its thread is of type `tail` with
/// the same dims and dtype. The pair is one call of `fused`. A new fusion of this shape is one more row.
struct ChainRule {
  std::string_view fused;                                 ///< the fusion's catalog type
  std::vector<std::string_view> head_ops;                 ///< aten names of the first op
  std::optional<Classified> (*head)(const CpuEvent& op);  ///< its dims in the tail's terms, if it fits
  std::string_view tail;                                  ///< the type of the op that reads its result
};
const std::vector<ChainRule>& chain_rules();

/// An op whose result the next op adds to a tensor of its shape, which one kernel does in its epilogue (a GEMM and
/// the residual add after it: kinds/matmul.py's graph pass). The head op (one of `head_ops`, classified as `type`)
/// and the next op on its thread past any of `pass_through` (views, an inference dropout) when that is one of
/// `tail_ops` at the head's output shape and dtype (`fits`): one call of the head with `fold` applied to its dims.
/// Found after the chain rules, which keep their adds (an add that feeds an RMSNorm is add_rmsnorm's).
struct EpilogueRule {
  std::string_view type;                                           ///< the head's (and the call's) type
  std::vector<std::string_view> head_ops, pass_through, tail_ops;  ///< aten names
  bool (*fits)(const Classified& head, const Classified& add);     ///< the add is at the head's output
  void (*fold)(Classified& head);                                  ///< the head's dims with the epilogue
};
const std::vector<EpilogueRule>& epilogue_rules();

/// Scopes that claim everything they run. A declared kind (ak.kind:<type>:<variant>:<path>) is its type
/// (rmsnorm, rotary_embedding, fused_mlp) whatever ran, as long as its dims can be read from the ops: a
/// rotary one needs a 4-d tensor (variant "half": style 1), a fused_mlp three matmuls. A module scope is
/// matched by its class name: an RMSNorm module (pow/mean/rsqrt/mul), a rotary embedding module, a SwiGLU
/// or GeGLU MLP module, and only when what ran inside fits (a rotary module must touch a 4-d tensor, a SwiGLU
/// MLP must run silu and three matmuls, a GeGLU one gelu and three matmuls, the first two alike: ACT 1 or 2). Rotary
/// dims are B,H,S,D from q (the first 4-d floating input), HKV from k (the first later one with other heads, else H)
/// and the style.
std::optional<Classified> classify_scope(const Trace& trace, int scope);

/// The recorded "Input type" of a tensor ("float", "c10::BFloat16", "c10::Half") as our dtype name.
std::string dtype_of(std::string_view recorded);

}  // namespace ak::profile

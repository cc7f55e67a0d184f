// A kernel type: what a candidate must compute, how it is checked and how its work is counted.
// One implementation per file in this folder, registered by name in registry.cpp.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/shape.hpp"
#include "util/error.hpp"

namespace ak::catalog {

/// How inputs are drawn: "random" for the normal distribution the type uses, or an adversarial case name;
/// `layout`, one of the type's `layouts()` ("" for its first), how they lie in memory.
struct InputSpec {
  Shape shape;
  at::ScalarType dtype = at::kHalf;
  std::string generator = "random";
  uint64_t seed = 42;
  std::string layout = "";
};

/// A concrete call: the inputs a candidate gets, its scalars, and the outputs it must write.
struct Problem {
  std::vector<at::Tensor> inputs;
  std::vector<double> scalars;
  std::vector<std::vector<int64_t>> output_shapes;
  std::vector<at::ScalarType> output_dtypes;
  /// Tensors only PyTorch's eager call reads: the same values in the layout the model gives PyTorch, where
  /// that differs from the kernel's (made here, so that no copy is timed as part of PyTorch's call).
  std::vector<at::Tensor> eager_inputs = {};
  /// Each output's strides in elements, where the ABI gives it a layout of its own (flash_attention's o in
  /// [B,S,H,D] memory order); empty, or shorter than the outputs, for contiguous.
  std::vector<std::vector<int64_t>> output_strides = {};
};

/// |out - ref| <= atol * rms(ref) + rtol * |ref|, elementwise. atol is relative to the output's
/// typical magnitude (its RMS), so one number serves every scale of input.
struct Tolerance {
  double atol = 0;
  double rtol = 0;
};

class KernelType {
 public:
  virtual ~KernelType() = default;

  virtual std::string_view name() const = 0;
  /// What Shape::dims mean, e.g. "M,N,K". Trailing dims in brackets may be left out
  /// ("B,H,S,D,causal[,HKV]"); dim_names (catalog/shape.hpp) reads it.
  virtual std::string_view dims_doc() const = 0;
  /// Why `dims` (as many as dims_doc allows) are not a problem of this type, "" if they are
  /// (flash_attention: HKV must divide H).
  virtual std::string dims_error(const std::vector<int64_t>&) const { return ""; }

  /// A fusion's type for its last op alone ("rmsnorm" for add_rmsnorm), "" for a type that is not a fusion.
  /// Where the chain cannot be fused (an uncompiled model keeps the add and the norm apart) that type's
  /// kernel runs the op, so extract takes it along with the fusion.
  virtual std::string_view unfused() const { return ""; }

  /// Stage 1: one small shape.
  virtual Shape smoke_shape() const = 0;
  /// Stage 2: 8–10 shapes, the sizes real LLaMA / GPT-2 models use among them.
  virtual std::vector<Shape> sweep_shapes() const = 0;
  /// Stage 5: non-power-of-two sizes (127, 1023, 1537, 4097, 50257...).
  virtual std::vector<Shape> edge_shapes() const = 0;
  /// Stage 3: names of adversarial generators, with the shape each is drawn at.
  virtual std::vector<std::string> adversarial_generators() const = 0;
  virtual Shape adversarial_shape() const = 0;
  /// Timing: the shapes benchmarked by default ("large" first).
  virtual std::vector<Shape> bench_shapes() const = 0;
  /// Dtypes the sweep covers.
  virtual std::vector<at::ScalarType> dtypes() const { return {at::kHalf, at::kBFloat16, at::kFloat}; }
  /// The memory layouts of the inputs a candidate must take (kernels/include/autokernel/kernel_abi.h), names
  /// make_problem knows (InputSpec::layout): "contiguous" for a type whose ABI says its tensors are. The first is
  /// the one timed, and the stages rotate through them case by case, so each stage with a few cases covers all.
  virtual std::vector<std::string> layouts() const { return {"contiguous"}; }
  /// The layout `spec`'s inputs get: its own, or the type's first; a type whose shapes can fix it (matmul's linear
  /// forms, whose B is the model's weight) says so here.
  virtual std::string layout_of(const InputSpec& spec) const {
    return spec.layout.empty() ? layouts().front() : spec.layout;
  }

  /// Build the inputs on `device` from a fixed seed. Throws on an unknown generator.
  virtual Problem make_problem(const InputSpec& spec, const at::Device& device) const = 0;
  /// The oracle, in float64, on the problem's device. One tensor per output.
  virtual std::vector<at::Tensor> reference(const Problem& p) const = 0;
  /// The PyTorch eager op in the problem's own dtype: the baseline a candidate is timed against.
  virtual std::vector<at::Tensor> eager(const Problem& p) const = 0;

  /// Work per call, for the roofline.
  virtual double flops(const Shape& s) const = 0;
  /// Fewest bytes a call must move: each input read once, each output written once.
  virtual double bytes(const Shape& s, at::ScalarType dtype) const = 0;
  virtual Tolerance tolerance(at::ScalarType dtype) const = 0;
  /// The magnitude atol is relative to: by default the RMS of the oracle's output. Types whose
  /// rounding error follows an input instead override it (attention: the values v).
  virtual double error_scale(const Problem& p, const at::Tensor& ref) const;

  /// Rough cost of checking one case (elements touched + flops): lets slow backends skip huge cases.
  double cost(const Shape& s) const { return flops(s) + bytes(s, at::kFloat) / 4; }
};

/// All registered kernel types, in a stable order.
const std::vector<std::unique_ptr<KernelType>>& all_types();
/// Look one up by name; the error lists the known names.
Expected<const KernelType*> find_type(std::string_view name);

/// "f16"/"fp16"/"float16"/"half", "bf16"/"bfloat16", "f32"/"fp32"/"float32".
Expected<at::ScalarType> parse_dtype(std::string_view s);
std::string dtype_name(at::ScalarType t);  ///< "f16", "bf16", "f32", "i64"
int64_t dtype_bytes(at::ScalarType t);

/// Root mean square over the finite elements (0 if none): the scale tolerances are relative to.
double rms(const at::Tensor& t);

/// Shared helpers for the implementations.
namespace detail {
at::TensorOptions opts(at::ScalarType dtype, const at::Device& device);
/// Seeded normal / uniform draws, made on the CPU (so the same seed gives the same data on any
/// device), then moved. Large inputs are drawn on the device itself for speed.
at::Tensor randn(at::IntArrayRef shape, at::ScalarType dtype, const at::Device& device, uint64_t seed,
                 double std = 1.0);
at::Tensor rand(at::IntArrayRef shape, at::ScalarType dtype, const at::Device& device, uint64_t seed);
[[noreturn]] void unknown_generator(std::string_view type, std::string_view gen);

/// The layouts of 4-D head tensors [B, Hi, S, D] (q, k, v) that attention-like types declare (`layouts()`):
/// "bshd" first (a Hugging Face model's proj(x).view(B,S,H,D).transpose(1,2), the layout timed), "contiguous",
/// and "packed" (q, k, v slices of one fused projection's output, [B,S,H+2*HKV,D] memory).
inline const std::vector<std::string>& head_layouts() {
  static const std::vector<std::string> k_layouts = {"bshd", "contiguous", "packed"};
  return k_layouts;
}
/// `heads` (each [B, Hi, S, D], one B, S, D and dtype) with the same values, laid out as `layout` says:
/// "contiguous" as they are; "bshd" each the transpose(1, 2) of a [B, S, Hi, D] tensor of its own; "packed" each
/// the transpose(1, 2) of a slice along dim 2 of one [B, S, sum Hi + unused_heads, D] tensor, in order, whose
/// last `unused_heads` heads (a v no kernel of the type reads) hold NaN. Throws on an unknown layout.
std::vector<at::Tensor> heads_in_layout(const std::vector<at::Tensor>& heads, std::string_view layout,
                                        int64_t unused_heads = 0);
/// The strides of a [B, H, S, D] tensor in [B, S, H, D] memory order: (S*H*D, D, H*D, 1).
std::vector<int64_t> bshd_strides(at::IntArrayRef shape);
}  // namespace detail

}  // namespace ak::catalog

// Helpers shared by the kernel types: dtype names, seeded generators, the registry.
#include <cmath>
#include <mutex>

#include <ATen/core/Generator.h>

#include "catalog/kernel_type.hpp"
#include "catalog/type_names.hpp"
#include "catalog/types.hpp"

namespace ak::catalog {

const std::vector<std::unique_ptr<KernelType>>& all_types() {
  static const auto types = [] {
    std::vector<std::unique_ptr<KernelType>> v;
    v.push_back(make_matmul());
    v.push_back(make_softmax());
    v.push_back(make_layernorm());
    v.push_back(make_rmsnorm());
    v.push_back(make_cross_entropy());
    v.push_back(make_rotary_embedding());
    v.push_back(make_reduce());
    v.push_back(make_flash_attention());
    v.push_back(make_fused_mlp());
    v.push_back(make_add_rmsnorm());
    v.push_back(make_skinny_gemm());
    v.push_back(make_gelu());
    v.push_back(make_decode_attention());
    return v;
  }();
  return types;
}

std::string type_names() {
  std::string names;
  for (const auto& t : all_types()) names += (names.empty() ? "" : ", ") + std::string(t->name());
  return names;
}

Expected<const KernelType*> find_type(std::string_view name) {
  for (const auto& t : all_types()) {
    if (t->name() == name) return t.get();
  }
  return fail(fmt::format("unknown kernel type '{}' (known: {})", name, type_names()));
}

Expected<at::ScalarType> parse_dtype(std::string_view s) {
  const auto name = dtype_short_name(s);
  if (!name) return fail(fmt::format("unknown dtype '{}' (known: f16, bf16, f32)", s));
  return *name == "f16" ? at::kHalf : *name == "bf16" ? at::kBFloat16 : at::kFloat;
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kHalf:
      return "f16";
    case at::kBFloat16:
      return "bf16";
    case at::kFloat:
      return "f32";
    case at::kDouble:
      return "f64";
    case at::kLong:
      return "i64";
    default:
      return std::string(c10::toString(t));
  }
}

int64_t dtype_bytes(at::ScalarType t) { return static_cast<int64_t>(c10::elementSize(t)); }

double KernelType::error_scale(const Problem&, const at::Tensor& ref) const { return rms(ref); }

namespace detail {

at::TensorOptions opts(at::ScalarType dtype, const at::Device& device) {
  return at::TensorOptions().dtype(dtype).device(device);
}

namespace {
// A private generator of the device's kind, seeded: one seed gives one tensor, whatever ran before.
template <typename Draw>
at::Tensor seeded(const at::Device& device, uint64_t seed, Draw draw) {
  at::Generator gen;
  {
    auto global = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(global.mutex());
    gen = global.clone();
  }
  gen.set_current_seed(seed);
  return draw(gen);
}
}  // namespace

at::Tensor randn(at::IntArrayRef shape, at::ScalarType dtype, const at::Device& device, uint64_t seed, double std) {
  return seeded(device, seed, [&](at::Generator& g) { return at::randn(shape, g, opts(at::kFloat, device)); })
      .mul_(std)
      .to(dtype);
}

at::Tensor rand(at::IntArrayRef shape, at::ScalarType dtype, const at::Device& device, uint64_t seed) {
  return seeded(device, seed, [&](at::Generator& g) { return at::rand(shape, g, opts(at::kFloat, device)); }).to(dtype);
}

void unknown_generator(std::string_view type, std::string_view gen) {
  throw Fatal(Error{fmt::format("{}: unknown input generator '{}'", type, gen)});
}

std::vector<at::Tensor> heads_in_layout(const std::vector<at::Tensor>& heads, std::string_view layout,
                                        int64_t unused_heads) {
  if (layout == "contiguous") return heads;
  std::vector<at::Tensor> out;
  if (layout == "bshd") {
    for (const auto& x : heads) {
      out.push_back(at::empty({x.size(0), x.size(2), x.size(1), x.size(3)}, x.options()).transpose(1, 2).copy_(x));
    }
    return out;
  }
  if (layout == "packed") {
    int64_t total = unused_heads;
    for (const auto& x : heads) total += x.size(1);
    const auto& x0 = heads.at(0);
    auto buffer = at::empty({x0.size(0), x0.size(2), total, x0.size(3)}, x0.options());
    if (unused_heads > 0) buffer.narrow(2, total - unused_heads, unused_heads).fill_(NAN);
    int64_t first = 0;
    for (const auto& x : heads) {
      out.push_back(buffer.narrow(2, first, x.size(1)).transpose(1, 2).copy_(x));
      first += x.size(1);
    }
    return out;
  }
  throw Fatal(Error{fmt::format("unknown input layout '{}' (known: contiguous, bshd, packed)", layout)});
}

std::vector<int64_t> bshd_strides(at::IntArrayRef shape) {
  const auto H = shape[1], S = shape[2], D = shape[3];
  return {S * H * D, D, H * D, 1};
}

}  // namespace detail

double rms(const at::Tensor& t) {
  auto d = t.to(at::kDouble);
  auto finite = at::isfinite(d);
  if (!finite.any().item<bool>()) return 0.0;
  return at::sqrt(at::where(finite, d, 0.0).pow(2).mean()).item<double>();
}
}  // namespace ak::catalog

// A Chrome trace exported by torch.profiler (prof.export_chrome_trace), reduced to what attribution
// needs: the CPU-side events of each thread nested into a tree by time (ops, record_function scopes,
// CUDA runtime/driver launches), and the GPU activities (kernels, memcpy, memset) each linked to the
// launch that issued it, through the "correlation" arg both carry or, failing that, the "ac2g" flow
// event pair. A CPU-only trace simply has no GPU activities.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace ak::profile {

/// The record_function scope the model runner wraps every nn.Module forward in: ak.module:<Class>:<path>.
inline constexpr std::string_view k_module_scope_prefix = "ak.module:";
/// The scope the model runner wraps a module or function in whose behaviour it recognised as one of our
/// kernel types: ak.kind:<type>:<variant>:<path>, e.g. "ak.kind:rotary_embedding:half:model.layers.0.self_attn"
/// ("-" for no variant; <path> is the module it ran in).
inline constexpr std::string_view k_kind_scope_prefix = "ak.kind:";
/// The scope around each profiled step of the model runner.
inline constexpr std::string_view k_step_scope = "ak.step";

enum class CpuKind {
  op,      ///< "cpu_op": an aten (or other dispatcher) operator call
  scope,   ///< "user_annotation": a record_function scope; a module scope when module_class is set, a
           ///< declared kind when kind_type is
  launch,  ///< "cuda_runtime" / "cuda_driver": cudaLaunchKernel, cuLaunchKernel, cudaMemcpyAsync...
};

struct CpuEvent {
  CpuKind kind = CpuKind::op;
  std::string name;
  std::string thread;  ///< "pid/tid"
  double ts_us = 0, dur_us = 0;
  int parent = -1;            ///< enclosing event on the same thread, -1 at the top
  std::vector<int> children;  ///< in time order
  std::string module_class;   ///< module scopes: the nn.Module's class
  std::string module_path;    ///< module and kind scopes: its qualified name ("layers.0.mlp"), "" if not known
  std::string kind_type;      ///< ak.kind scopes: the kernel type the runner recognised ("rotary_embedding")
  std::string kind_variant;   ///< ak.kind scopes: its variant ("half"), "" for "-"
  nlohmann::json args;        ///< ops: "Input Dims", "Input type", "Concrete Inputs" (as recorded)

  double end_us() const { return ts_us + dur_us; }
};

struct GpuActivity {
  std::string name;
  std::string category;  ///< "kernel", "gpu_memcpy", "gpu_memset"
  double ts_us = 0, dur_us = 0;
  int launch = -1;  ///< index of the CpuEvent (launch) that issued it, -1 if the trace does not say
};

struct Trace {
  std::vector<CpuEvent> cpu;  ///< sorted by thread, then start time (parents before children)
  std::vector<GpuActivity> gpu;
  bool has_gpu() const { return !gpu.empty(); }
};

/// Parse the trace's JSON text. Errors name what is missing ("no traceEvents").
Expected<Trace> parse_trace(std::string_view json_text);
Expected<Trace> read_trace(const std::filesystem::path& path);

}  // namespace ak::profile

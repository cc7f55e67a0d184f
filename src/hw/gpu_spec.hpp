// GPU spec database: datasheet peaks for known parts, a robust matcher from what the device reports
// about itself, and an estimator for parts the table does not know. Pure C++20, std only.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ak::hw {

struct GpuSpec {
  std::string name;           ///< canonical, e.g. "NVIDIA H100 SXM5 80GB"
  std::string vendor;         ///< "nvidia" | "amd"
  int sm_count = 0;           ///< SMs (NVIDIA) or CUs (AMD)
  double memory_gb = 0;       ///< nominal device memory [GB], as marketed
  double bandwidth_gb_s = 0;  ///< datasheet HBM/GDDR bandwidth [GB/s]
  double l2_mb = 0;           ///< last-level cache [MB] (AMD: Infinity Cache)
  /// Dense (no sparsity) tensor/matrix-core peaks [TFLOP/s]; fp16/bf16/fp8 with fp32 accumulation
  /// (the GeForce "fp16 accumulate" doubles are not used). tflops_fp32 is the non-tensor SIMT rate.
  /// Where a part has no native unit for a type, the field holds the rate that type actually runs
  /// at on it: fp8 -> the fp16 rate (operands are upcast), tf32 -> the fp32 rate (see has_native_fp8).
  double tflops_fp16 = 0, tflops_bf16 = 0, tflops_tf32 = 0, tflops_fp8 = 0, tflops_fp32 = 0;
  std::string compute_capability;  ///< "9.0", or the AMD gfx arch "gfx942"
  bool estimated = false;          ///< true when derived by estimate_spec rather than the table
};

/// What the device reports about itself (filled by the caller from cudaDeviceProp / hipDeviceProp / torch).
struct DeviceProps {
  std::string name;      ///< e.g. "NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "AMD Instinct MI300X", "" (some ROCm)
  std::string gcn_arch;  ///< ROCm gcnArchName, e.g. "gfx942:sramecc+:xnack-", else ""
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  double total_memory_gb = 0;  ///< either GB (1e9) or GiB (2^30): the matcher accepts both
  double sm_clock_mhz = 0;     ///< max SM clock, 0 if unknown
  double mem_clock_mhz = 0;    ///< memory clock as cudaDeviceProp::memoryClockRate reports it, 0 if unknown
  int mem_bus_width_bits = 0;  ///< 0 if unknown
  double l2_mb = 0;
};

/// The table of known parts (datasheet numbers). Stable order; never empty.
const std::vector<GpuSpec>& known_gpus();

/// Match the device to a table entry by its own name and properties, most specific first:
/// the name is tokenised (split on space, '-', '_', ...) and compared by whole tokens, the model token
/// ("h100", "a10g", "l40s", "4090", "mi300x", ...) picks the family, and form factor / memory size /
/// memory type / SM count pick the variant. An AMD device without a usable name is matched by its gfx
/// arch plus CU count, memory and clock. nullopt if the part is not in the table.
std::optional<GpuSpec> match_known(const DeviceProps& p);

/// Estimate peaks for a part the table does not know, from compute capability (or gfx arch), SM count
/// and clocks. The result has estimated = true. Formulas and their constants are documented in the .cpp.
GpuSpec estimate_spec(const DeviceProps& p);

/// match_known(p), else estimate_spec(p).
GpuSpec spec_for(const DeviceProps& p);

/// Peak [TFLOP/s] for a dtype name: "fp16"/"half"/"float16", "bf16"/"bfloat16", "fp32"/"float32"/"float"
/// (the SIMT rate, never tf32), "tf32", "fp8"/"float8_e4m3fn"/"e5m2"/...; a "torch." prefix is accepted.
/// Throws std::invalid_argument for any other name.
double peak_tflops(const GpuSpec& s, std::string_view dtype);

/// Whether the part has native fp8 tensor/matrix units (NVIDIA sm_89 and newer, AMD gfx94x/gfx95x/gfx12).
/// When false, tflops_fp8 is only the fp16 fallback rate.
bool has_native_fp8(const GpuSpec& s);

/// Lower-cased name tokens, split on whitespace and - _ / , ( ) : — what match_known compares.
std::vector<std::string> tokenize_gpu_name(std::string_view name);

}  // namespace ak::hw

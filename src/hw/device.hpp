// The device a candidate runs on: what it says about itself, its datasheet spec, and measured ceilings.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "hw/gpu_spec.hpp"

namespace ak::hw {

struct DeviceInfo {
  bool is_gpu = false;
  std::string name;             ///< "NVIDIA H100 80GB HBM3", or "cpu"
  DeviceProps props;            ///< as reported (GPU only)
  std::optional<GpuSpec> spec;  ///< datasheet or estimate (GPU only)
};

/// Read the device's own properties (initialises CUDA for a GPU device).
DeviceInfo detect(const at::Device& device);

/// Ceilings measured once per device and cached under <cache>/ceiling/<device>.json.
struct Ceiling {
  double copy_gb_s = 0;       ///< device-to-device copy, bytes read + written [GB/s]
  double matmul_tflops = 0;   ///< library matmul (cuBLAS bf16 8192^3 on GPU; f32 on CPU) [TFLOP/s]
  std::string matmul_what;    ///< which matmul was measured
};
Ceiling measured_ceiling(const at::Device& device, const DeviceInfo& info);

}  // namespace ak::hw

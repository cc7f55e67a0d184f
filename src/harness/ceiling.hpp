// The device's measured ceilings (copy bandwidth, library matmul), timed once per device by the harness's
// timer and cached: the roofs every timing is quoted against.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "hw/device.hpp"

namespace ak::harness {

/// Ceilings measured once per device and cached under <cache>/ceiling/<device>.json.
struct Ceiling {
  double copy_gb_s = 0;      ///< device-to-device copy, bytes read + written [GB/s]
  double matmul_tflops = 0;  ///< library matmul (cuBLAS bf16 8192^3 on GPU; f32 on CPU) [TFLOP/s]
  std::string matmul_what;   ///< which matmul was measured
};
Ceiling measured_ceiling(const at::Device& device, const hw::DeviceInfo& info);

}  // namespace ak::harness

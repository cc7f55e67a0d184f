// The device a candidate runs on: what it says about itself and its datasheet spec. (Its measured ceilings
// are the harness's, harness/ceiling.hpp: they are timed by the harness's timer.)
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

}  // namespace ak::hw

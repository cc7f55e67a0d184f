// Where a kernel sits on the roofline, from what results.tsv recorded and the catalogue's formulas:
// its arithmetic intensity (FLOP per byte at the shape it was timed at) and the roofs it is under.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "workspace/results_log.hpp"

namespace ak::catalog {
class KernelType;
}

namespace ak::report {

/// The timed shape and the intensity there, or why they are unknown.
struct Placement {
  std::optional<double> intensity;  ///< [FLOP/byte]
  std::string shape;                ///< the catalogue shape the row was timed at, e.g. "large (4096x4096)"
  std::string note;                 ///< when unknown: why
};

/// results.tsv holds no shape, only the work rate and the latency; their product is the work done per call
/// (bytes for a memory-bound row, FLOPs for a compute-bound one). The shape is the catalogue shape whose
/// formula gives that work (within 2%, the rounding of the row's numbers). A compute-bound row's bytes
/// depend on the dtype, which the row does not record: `dtype` is assumed for it.
Placement place(const catalog::KernelType& type, const workspace::ResultRow& row, at::ScalarType dtype);

/// The roofs kernels of one device are drawn under.
struct Roofs {
  double bandwidth_gb_s = 0;  ///< 0 when unknown
  double compute_gflops = 0;  ///< 0 when unknown
  std::string source;         ///< where they came from, for the report
};

/// The measured ceiling a row was quoted against: throughput / (pct_of_ceiling / 100), in the row's unit;
/// 0 if the row has none.
double ceiling_of(const workspace::ResultRow& row);

/// Roofs for rows of one device: the measured ceilings the rows were quoted against (the median over rows,
/// GB/s rows give the memory roof, TFLOP/s rows the compute roof), completed from the ceilings cached on
/// this machine for `device_cache_name` ("cpu", or "" for any GPU's) when the rows give only one.
Roofs roofs_for(const std::vector<workspace::ResultRow>& rows, const std::string& device_cache_name);

/// The median of some values (0 for none).
double median(std::vector<double> v);

}  // namespace ak::report

// Comparing a candidate's output with the float64 oracle: pass/fail plus where and by how much.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "catalog/kernel_type.hpp"

namespace ak::harness {

struct Comparison {
  bool ok = true;
  int64_t bad_count = 0;         ///< elements outside tolerance
  int64_t unwritten = 0;         ///< elements still holding the poison bit pattern
  double max_abs_err = 0;        ///< over finite elements
  double max_rel_err = 0;        ///< |err| / |ref| over elements with |ref| > 1e-3 * rms(ref)
  std::string first_bad;         ///< "[row, col]" of the first failing element, "" if none
  double got = 0, expected = 0;  ///< the values there
  std::string message;           ///< one line for the user when !ok
};

/// Is `out` within `tol` of the oracle `ref` (float64)? NaN/Inf must match the oracle's exactly.
/// atol is multiplied by `scale` (KernelType::error_scale); a negative scale means the RMS of `ref`.
Comparison compare(const at::Tensor& out, const at::Tensor& ref, const catalog::Tolerance& tol, double scale = -1);

/// Bitwise equality (NaN payloads included): the determinism check.
bool bitwise_equal(const at::Tensor& a, const at::Tensor& b);

/// Fill with the poison value, a NaN with a payload arithmetic never produces: an element the kernel
/// skips keeps it, and compare() reports it as never written.
void poison(const at::Tensor& t);

}  // namespace ak::harness

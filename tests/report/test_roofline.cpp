// Placing a results.tsv row on the roofline: the timed shape is found from the work the row measured.
#include <gtest/gtest.h>

#include "catalog/kernel_type.hpp"
#include "report/roofline.hpp"

namespace ak {
namespace {

/// A row as the loop writes it for `shape` timed in `dtype` at `latency_us`, throughput rounded as results.tsv does.
workspace::ResultRow timed_row(const catalog::KernelType& type, const catalog::Shape& shape, at::ScalarType dtype,
                               bool memory, double latency_us) {
  workspace::ResultRow r;
  r.latency_us = latency_us;
  const double t = latency_us * 1e-6;
  r.throughput_unit = memory ? "GB/s" : "TFLOP/s";
  r.throughput = std::round((memory ? type.bytes(shape, dtype) / t / 1e9 : type.flops(shape) / t / 1e12) * 1e4) / 1e4;
  return r;
}

TEST(Roofline, AMemoryBoundRowIsPlacedAtTheShapeAndDtypeItWasTimedAt) {
  const auto* type = *catalog::find_type("reduce");
  // Some reduce shapes in f16 move as many bytes as others of half the elements in f32 (the CPU times a
  // sweep shape): the dtype the run timed in decides.
  for (const auto& shape : type->sweep_shapes()) {
    const auto row = timed_row(*type, shape, at::kHalf, true, 2500.0);
    const auto p = report::place(*type, row, at::kHalf);
    ASSERT_TRUE(p.intensity) << p.note;
    // Within 1%: another shape of nearly the same bytes (within results.tsv's rounding) may be named; the
    // wrong dtype would be 2x off.
    const double expected = type->flops(shape) / type->bytes(shape, at::kHalf);
    EXPECT_NEAR(*p.intensity, expected, 0.01 * expected) << shape.label;
    EXPECT_NE(p.shape.find("f16"), std::string::npos) << p.shape;
  }
  const auto large = type->bench_shapes().front();
  const auto p = report::place(*type, timed_row(*type, large, at::kHalf, true, 2500.0), at::kHalf);
  EXPECT_NE(p.shape.find(large.label), std::string::npos) << p.shape;
}

TEST(Roofline, AComputeBoundRowIsPlacedByItsFlops) {
  const auto* type = *catalog::find_type("matmul");
  const auto shape = type->bench_shapes().at(1);
  const auto row = timed_row(*type, shape, at::kBFloat16, false, 250.0);
  const auto p = report::place(*type, row, at::kBFloat16);
  ASSERT_TRUE(p.intensity) << p.note;
  EXPECT_DOUBLE_EQ(*p.intensity, type->flops(shape) / type->bytes(shape, at::kBFloat16));
}

TEST(Roofline, AShapeTheCatalogueDoesNotListIsLeftOffWithAReason) {
  const auto* type = *catalog::find_type("rmsnorm");
  const auto row = timed_row(*type, {"model", {3, 77}}, at::kHalf, true, 10.0);
  const auto p = report::place(*type, row, at::kHalf);
  EXPECT_FALSE(p.intensity);
  EXPECT_NE(p.note.find("does not list"), std::string::npos) << p.note;
}

TEST(Roofline, TheRoofsAreTheCeilingsTheRowsWereQuotedAgainst) {
  workspace::ResultRow mem, comp;
  mem.throughput = 1500;
  mem.throughput_unit = "GB/s";
  mem.pct_of_ceiling = 50;
  comp.throughput = 300;
  comp.throughput_unit = "TFLOP/s";
  comp.pct_of_ceiling = 40;
  EXPECT_DOUBLE_EQ(report::ceiling_of(mem), 3000);
  const auto roofs = report::roofs_for({mem, comp}, "");
  EXPECT_DOUBLE_EQ(roofs.bandwidth_gb_s, 3000);
  EXPECT_DOUBLE_EQ(roofs.compute_gflops, 750000);
}

}  // namespace
}  // namespace ak

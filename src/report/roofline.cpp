#include "report/roofline.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "catalog/kernel_type.hpp"
#include "util/fs.hpp"

namespace ak::report {
namespace {

/// results.tsv rounds throughput to 4 decimals and latency to 3: 2% covers that on any size worth timing.
constexpr double k_work_match = 0.02;

std::vector<catalog::Shape> catalogue_shapes(const catalog::KernelType& type) {
  std::vector<catalog::Shape> shapes = type.bench_shapes();  // the usual ones first: ties go to them
  for (auto&& group : {type.sweep_shapes(), type.edge_shapes()})
    shapes.insert(shapes.end(), group.begin(), group.end());
  shapes.push_back(type.smoke_shape());
  shapes.push_back(type.adversarial_shape());
  return shapes;
}

bool close(double a, double b) { return b > 0 && std::abs(a - b) <= k_work_match * b; }

}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Placement place(const catalog::KernelType& type, const workspace::ResultRow& row, at::ScalarType dtype) {
  Placement p;
  if (row.throughput <= 0 || row.latency_us <= 0) {
    p.note = "no timed measurement";
    return p;
  }
  const bool memory = row.throughput_unit == "GB/s";
  // Work per call = rate x time: bytes for GB/s rows, FLOPs for TFLOP/s rows.
  const double work =
      memory ? row.throughput * 1e9 * row.latency_us * 1e-6 : row.throughput * 1e12 * row.latency_us * 1e-6;
  std::vector<at::ScalarType> dtypes = {dtype};
  for (auto d : type.dtypes()) {
    if (d != dtype) dtypes.push_back(d);
  }
  // The assumed dtype first over every shape: a shape of twice the elements in half the width moves the
  // same bytes, so a match in another dtype is only a fallback.
  const auto shapes = catalogue_shapes(type);
  for (auto d : dtypes) {
    for (const auto& s : shapes) {
      const double flops = type.flops(s), bytes = type.bytes(s, d);
      if (close(memory ? bytes : flops, work) && bytes > 0 && flops > 0) {
        p.intensity = flops / bytes;
        p.shape = fmt::format("{} ({}, {})", s.label, catalog::shape_string(s.dims), catalog::dtype_name(d));
        return p;
      }
    }
    if (!memory) break;  // FLOPs do not tell dtypes apart: a compute-bound row is placed in the assumed one
  }
  p.note = fmt::format("timed at a shape the catalogue does not list ({:.4g} {} per call)", work,
                       memory ? "bytes" : "FLOPs");
  return p;
}

double ceiling_of(const workspace::ResultRow& row) {
  return row.pct_of_ceiling > 0 && row.throughput > 0 ? row.throughput / (row.pct_of_ceiling / 100.0) : 0;
}

Roofs roofs_for(const std::vector<workspace::ResultRow>& rows, const std::string& device_cache_name) {
  std::vector<double> bw, compute;
  for (const auto& r : rows) {
    const double c = ceiling_of(r);
    if (c <= 0) continue;
    if (r.throughput_unit == "GB/s") bw.push_back(c);
    if (r.throughput_unit == "TFLOP/s") compute.push_back(c * 1000);
  }
  Roofs roofs{median(bw), median(compute), "the ceilings results.tsv's rows were quoted against"};
  if (roofs.bandwidth_gb_s > 0 && roofs.compute_gflops > 0) return roofs;

  // The other roof from the ceilings measured on this machine (`autokernel bench` caches them per device).
  const auto dir = util::cache_dir() / "ceiling";
  std::error_code ec;
  std::filesystem::path chosen;
  std::filesystem::file_time_type newest{};
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const auto stem = e.path().stem().string();
    if (e.path().extension() != ".json") continue;
    const bool match = device_cache_name.empty() ? stem != "cpu" : stem == device_cache_name;
    if (match && (chosen.empty() || e.last_write_time(ec) > newest)) {
      chosen = e.path();
      newest = e.last_write_time(ec);
    }
  }
  if (chosen.empty()) return roofs;
  auto text = util::read_file(chosen);
  if (!text) return roofs;
  try {
    const auto j = nlohmann::json::parse(*text);
    bool used = false;
    if (roofs.bandwidth_gb_s <= 0 && j.value("copy_gb_s", 0.0) > 0) {
      roofs.bandwidth_gb_s = j.at("copy_gb_s").get<double>();
      used = true;
    }
    if (roofs.compute_gflops <= 0 && j.value("matmul_tflops", 0.0) > 0) {
      roofs.compute_gflops = j.at("matmul_tflops").get<double>() * 1000;
      used = true;
    }
    if (used) {
      roofs.source = fmt::format("{}; completed from the ceilings measured on this machine for {} ({})",
                                 bw.empty() && compute.empty() ? "no row carries a ceiling" : roofs.source,
                                 j.value("device", chosen.stem().string()), chosen.string());
    }
  } catch (const std::exception&) {
    // A damaged cache file: the roofs stay as the rows gave them.
  }
  return roofs;
}

}  // namespace ak::report

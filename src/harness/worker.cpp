#include "harness/worker.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>

#include "backends/backend.hpp"
#include "harness/compare.hpp"
#include "harness/stages.hpp"
#include "harness/timing.hpp"
#include "hw/device.hpp"

namespace ak::harness {
namespace {

/// Per-case cost budgets of the slow backends (KernelType::cost: flops + elements). Chosen so that a whole
/// bench of one starter stays within tens of seconds on one CPU core.
constexpr double k_cpu_case_budget = 2e7;
constexpr double k_interpreter_case_budget = 1e6;  // Triton's interpreter is numpy-driven and slow
constexpr int k_timing_input_sets = 3;             // rotated, so consecutive samples see different data

void emit(const nlohmann::json& j) {
  std::cout << k_event_prefix << j.dump() << std::endl;  // one line, flushed: the parent watches for hangs
}

nlohmann::json device_json(const hw::DeviceInfo& info) {
  nlohmann::json j = {{"event", "device"}, {"name", info.name}, {"is_gpu", info.is_gpu}};
  if (info.spec) {
    j["spec"] = {{"name", info.spec->name},           {"estimated", info.spec->estimated},
                 {"bandwidth_gb_s", info.spec->bandwidth_gb_s}, {"tflops_fp16", info.spec->tflops_fp16},
                 {"tflops_bf16", info.spec->tflops_bf16}, {"tflops_fp32", info.spec->tflops_fp32},
                 {"sm_count", info.spec->sm_count},   {"l2_mb", info.spec->l2_mb}};
  }
  return j;
}

struct TimedShape {
  catalog::Shape shape;
  nlohmann::json result;
};

nlohmann::json time_shape(const catalog::KernelType& type, backends::LoadedKernel& kernel, const at::Device& device,
                          const hw::DeviceInfo& info, const hw::Ceiling& ceiling, const catalog::Shape& shape,
                          at::ScalarType dtype) {
  std::vector<catalog::Problem> sets;
  std::vector<std::vector<at::Tensor>> refs, outs;
  for (int s = 0; s < k_timing_input_sets; ++s) {
    sets.push_back(type.make_problem({shape, dtype, "random", 1000ULL + s}, device));
    refs.push_back(type.reference(sets.back()));
    outs.push_back(allocate_outputs(sets.back(), device));
  }
  const auto tol = type.tolerance(dtype);
  SampleTimer timer(device);
  TimingOptions opt;
  if (!device.is_cuda()) {
    opt.min_samples = 5;
    opt.max_samples = 50;
    opt.target_rel_error = 0.01;
  }
  std::string timed_failure;
  auto kernel_stats = timer.time(
      [&](int i) {
        for (auto& o : outs[i % k_timing_input_sets]) poison(o);
      },
      [&](int i) {
        const auto& p = sets[i % k_timing_input_sets];
        if (auto r = kernel.call(p.inputs, outs[i % k_timing_input_sets], p.scalars); !r && timed_failure.empty()) {
          timed_failure = r.error().message;
        }
      },
      [&](int i) {
        // Every timed output is checked too: a kernel cannot be fast by skipping work when timed.
        for (std::size_t k = 0; k < outs[i % k_timing_input_sets].size() && timed_failure.empty(); ++k) {
          const auto& set = sets[i % k_timing_input_sets];
          const auto& ref = refs[i % k_timing_input_sets][k];
          auto cmp = compare(outs[i % k_timing_input_sets][k], ref, tol, type.error_scale(set, ref));
          if (!cmp.ok) timed_failure = fmt::format("a timed run was wrong: {}", cmp.message);
        }
      },
      opt);
  auto eager_stats = timer.time([](int) {}, [&](int i) { type.eager(sets[i % k_timing_input_sets]); }, [](int) {}, opt);

  const double flops = type.flops(shape), bytes = type.bytes(shape, dtype);
  const double t = kernel_stats.median_ms * 1e-3, tr = eager_stats.median_ms * 1e-3;
  nlohmann::json j = {{"event", "timing"},
                      {"shape", shape.label},
                      {"dims", shape.dims},
                      {"dtype", catalog::dtype_name(dtype)},
                      {"kernel_us", kernel_stats.median_ms * 1e3},
                      {"kernel_min_us", kernel_stats.min_ms * 1e3},
                      {"kernel_spread", kernel_stats.rel_spread},
                      {"kernel_samples", kernel_stats.samples},
                      {"reference_us", eager_stats.median_ms * 1e3},
                      {"reference_spread", eager_stats.rel_spread},
                      {"reference_samples", eager_stats.samples},
                      {"speedup_vs_reference", t > 0 ? tr / t : 0.0},
                      {"flops", flops},
                      {"bytes", bytes},
                      {"tflops", t > 0 ? flops / t / 1e12 : 0.0},
                      {"gb_s", t > 0 ? bytes / t / 1e9 : 0.0},
                      {"reference_gb_s", tr > 0 ? bytes / tr / 1e9 : 0.0},
                      {"reference_tflops", tr > 0 ? flops / tr / 1e12 : 0.0},
                      {"arithmetic_intensity", flops / bytes}};
  if (!timed_failure.empty()) j["timed_failure"] = timed_failure;
  // Roofline: memory- or compute-bound by the datasheet ridge point, else by the measured one.
  const double peak_tflops = info.spec ? hw::peak_tflops(*info.spec, catalog::dtype_name(dtype) == "f32" ? "tf32"
                                                                     : catalog::dtype_name(dtype) == "f16" ? "fp16"
                                                                                                           : "bf16")
                                       : ceiling.matmul_tflops;
  const double peak_bw = info.spec ? info.spec->bandwidth_gb_s : ceiling.copy_gb_s;
  const double ridge = peak_tflops * 1e12 / (peak_bw * 1e9);
  const bool memory_bound = flops / bytes < ridge;
  j["bound"] = memory_bound ? "memory" : "compute";
  j["ridge_point"] = ridge;
  j["pct_of_ceiling"] = memory_bound ? 100.0 * j["gb_s"].get<double>() / ceiling.copy_gb_s
                                     : 100.0 * j["tflops"].get<double>() / ceiling.matmul_tflops;
  if (info.spec) {
    j["pct_of_peak"] = memory_bound ? 100.0 * j["gb_s"].get<double>() / peak_bw
                                    : 100.0 * j["tflops"].get<double>() / peak_tflops;
  }
  return j;
}

std::vector<catalog::Shape> timing_shapes(const catalog::KernelType& type, const WorkerOptions& o, double budget) {
  std::vector<catalog::Shape> shapes = o.model_shapes;
  for (const auto& s : type.bench_shapes()) shapes.push_back(s);
  std::vector<catalog::Shape> fit;
  for (const auto& s : shapes) {
    if (budget <= 0 || type.cost(s) <= budget) fit.push_back(s);
  }
  if (fit.empty()) {
    // A slow backend: time the largest sweep shape it can afford instead.
    catalog::Shape best = type.smoke_shape();
    for (const auto& s : type.sweep_shapes()) {
      if (type.cost(s) <= budget && type.cost(s) > type.cost(best)) best = s;
    }
    fit.push_back(best);
  }
  if (o.quick) fit.resize(1);
  if (o.max_timing_shapes > 0 && static_cast<int>(fit.size()) > o.max_timing_shapes) fit.resize(o.max_timing_shapes);
  return fit;
}

}  // namespace

int run_worker(const WorkerOptions& o) {
  auto error = [](const std::string& kind, const Error& e) {
    emit({{"event", "error"}, {"kind", kind}, {"message", e.message}, {"hint", e.hint}});
    emit({{"event", "done"}});
    return 0;
  };
  auto candidate = backends::load_candidate(o.kernel_path, o.backend, o.knobs);
  if (!candidate) return error("input", candidate.error());
  auto type = catalog::find_type(candidate->type);
  if (!type) return error("input", type.error());
  auto backend = backends::make_backend(candidate->backend);
  if (!backend) return error("input", backend.error());
  auto device = (*backend)->device();
  if (!device) return error("input", device.error());
  const auto info = hw::detect(*device);
  emit(device_json(info));

  const auto t0 = std::chrono::steady_clock::now();
  emit({{"event", "compile_start"}});
  auto kernel = (*backend)->load(*candidate);
  if (!kernel) return error("compile", kernel.error());
  emit({{"event", "compiled"}, {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}});

  double budget = 0;
  if (!device->is_cuda()) budget = candidate->backend == "triton" ? k_interpreter_case_budget : k_cpu_case_budget;
  StageOptions so;
  so.quick = o.quick;
  so.max_case_cost = budget;
  so.model_shapes = o.model_shapes;
  const auto outcome = run_stages(**type, **kernel, *device, so, emit);
  if (outcome.passed && o.timing) {
    auto dtype = catalog::parse_dtype(o.timing_dtype);
    if (!dtype) return error("input", dtype.error());
    emit({{"event", "timing_start"}});
    const auto ceiling = hw::measured_ceiling(*device, info);
    emit({{"event", "ceiling"}, {"copy_gb_s", ceiling.copy_gb_s}, {"matmul_tflops", ceiling.matmul_tflops},
          {"matmul_what", ceiling.matmul_what}});
    for (const auto& s : timing_shapes(**type, o, budget)) {
      emit({{"event", "case_start"}, {"stage", "timing"}, {"case", s.label}});
      emit(time_shape(**type, **kernel, *device, info, ceiling, s, *dtype));
    }
  }
  emit({{"event", "done"}});
  std::cout.flush();
  // Leave at once: a candidate's device fault or stray thread must not turn into a hang at exit.
  std::_Exit(0);
}

}  // namespace ak::harness

#include "harness/worker.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>

#include "backends/backend.hpp"
#include "backends/cuda_arch.hpp"
#include "harness/ceiling.hpp"
#include "harness/compare.hpp"
#include "harness/integrity.hpp"
#include "harness/stages.hpp"
#include "harness/timing.hpp"
#include "harness/timing_result.hpp"
#include "hw/device.hpp"

namespace ak::harness {
namespace {

/// Per-case cost budgets of the slow backends (KernelType::cost: flops + elements). Chosen so that a whole
/// bench of one starter stays within tens of seconds on one CPU core.
constexpr double k_cpu_case_budget = 2e7;
constexpr double k_interpreter_case_budget = 1e6;  // Triton's interpreter is numpy-driven and slow
constexpr int k_timing_input_sets = 3;             // buffer slots, rotated: addresses repeat, values never do

void emit(const nlohmann::json& j) {
  std::cout << k_event_prefix << j.dump() << std::endl;  // one line, flushed: the parent watches for hangs
}

nlohmann::json device_json(const hw::DeviceInfo& info) {
  nlohmann::json j = {{"event", "device"}, {"name", info.name}, {"is_gpu", info.is_gpu}};
  if (info.spec) {
    j["spec"] = {{"name", info.spec->name},
                 {"estimated", info.spec->estimated},
                 {"bandwidth_gb_s", info.spec->bandwidth_gb_s},
                 {"tflops_fp16", info.spec->tflops_fp16},
                 {"tflops_bf16", info.spec->tflops_bf16},
                 {"tflops_fp32", info.spec->tflops_fp32},
                 {"sm_count", info.spec->sm_count},
                 {"l2_mb", info.spec->l2_mb}};
  }
  return j;
}

/// One buffer slot of the timing: inputs, outputs and the snapshot of the outputs, allocated once.
struct Slot {
  std::vector<at::Tensor> inputs, outputs, snapshot;
  std::vector<double> scalars;
  catalog::Problem fresh;  ///< the values this sample's inputs were filled with (the candidate never sees it)
  std::vector<Binding> input_bindings, output_bindings;
};

struct CandidateTiming {
  TimingStats stats;
  std::string failure;  ///< "" when every timed output was right
};

/// Time the candidate with fresh inputs for every call. The inputs live in k_timing_input_sets slots whose
/// addresses repeat and whose values never do (a new secret seed for each call): a cache keyed by address,
/// or anything remembered from an earlier call, gives a wrong answer, and a cache keyed by content never
/// hits. Each timed output is checked, from the snapshot taken right after the timed region, against an
/// oracle computed only after the call (so it is never in memory while the candidate runs), from the
/// untouched copy of the inputs, once the inputs are proven unchanged and still bound as they were.
CandidateTiming time_candidate(const catalog::KernelType& type, backends::LoadedKernel& kernel,
                               const at::Device& device, const catalog::Shape& shape, at::ScalarType dtype,
                               uint64_t seed, const TimingOptions& opt) {
  std::vector<Slot> slots(k_timing_input_sets);
  for (int s = 0; s < k_timing_input_sets; ++s) {
    auto p = type.make_problem({shape, dtype, "random", seed + s}, device);
    slots[s].inputs = p.inputs;
    slots[s].outputs = allocate_outputs(p, device);
    for (const auto& o : slots[s].outputs) slots[s].snapshot.push_back(at::empty_like(o));
  }
  const auto tol = type.tolerance(dtype);
  CandidateTiming result;
  auto failed = [&](std::string why) {
    if (result.failure.empty()) result.failure = std::move(why);
  };
  uint64_t calls = 0;  // warm-up calls included: every call gets its own seed
  SampleHooks hooks;
  hooks.before = [&](int i) {
    auto& slot = slots[i % k_timing_input_sets];
    slot.fresh = type.make_problem({shape, dtype, "random", seed + k_timing_input_sets + calls++}, device);
    for (std::size_t k = 0; k < slot.inputs.size(); ++k) slot.inputs[k].copy_(slot.fresh.inputs[k]);
    slot.scalars = slot.fresh.scalars;
    for (auto& o : slot.outputs) poison(o);
    slot.input_bindings = bindings(slot.inputs);
    slot.output_bindings = bindings(slot.outputs);
  };
  hooks.run = [&](int i) {
    auto& slot = slots[i % k_timing_input_sets];
    if (auto r = kernel.call(slot.inputs, slot.outputs, slot.scalars); !r) failed(r.error().message);
  };
  hooks.snapshot = [&](int i) {
    auto& slot = slots[i % k_timing_input_sets];
    for (std::size_t k = 0; k < slot.outputs.size(); ++k)
      slot.snapshot[k].copy_(slot.outputs[k], /*non_blocking=*/true);
  };
  hooks.after = [&](int i) {
    if (!result.failure.empty()) return;
    auto& slot = slots[i % k_timing_input_sets];
    for (const auto& e : {rebinding_error(slot.input_bindings, slot.inputs, "input"),
                          rebinding_error(slot.output_bindings, slot.outputs, "output")}) {
      if (!e.empty()) return failed("a timed run: " + e);
    }
    for (std::size_t k = 0; k < slot.inputs.size(); ++k) {
      if (!bitwise_equal(slot.inputs[k], slot.fresh.inputs[k])) {
        return failed(fmt::format("a timed run modified input {} (inputs are read-only)", k));
      }
    }
    const auto ref = type.reference(slot.fresh);
    for (std::size_t k = 0; k < slot.snapshot.size(); ++k) {
      // The snapshot, not the live output: what was there when the timed region ended.
      auto cmp = compare(slot.snapshot[k], ref[k], tol, type.error_scale(slot.fresh, ref[k]));
      if (!cmp.ok) return failed(fmt::format("a timed run was wrong: {}", cmp.message));
    }
  };
  try {
    result.stats = SampleTimer(device).time(hooks, opt);
  } catch (const std::exception& e) {
    // Typically an asynchronous device fault surfacing at a synchronisation.
    std::string what = e.what();
    if (auto nl = what.find('\n'); nl != std::string::npos) what = what.substr(0, nl);
    failed(fmt::format("runtime error while timing: {}", what));
  }
  return result;
}

/// The eager PyTorch op, timed the same way (it needs no defences: three fixed input sets).
TimingStats time_eager(const catalog::KernelType& type, const at::Device& device, const catalog::Shape& shape,
                       at::ScalarType dtype, uint64_t seed, const TimingOptions& opt) {
  std::vector<catalog::Problem> sets;
  for (int s = 0; s < k_timing_input_sets; ++s)
    sets.push_back(type.make_problem({shape, dtype, "random", seed + s}, device));
  return SampleTimer(device).time([](int) {}, [&](int i) { type.eager(sets[i % k_timing_input_sets]); }, [](int) {},
                                  opt);
}

TimingResult time_shape(const catalog::KernelType& type, backends::LoadedKernel& kernel, const at::Device& device,
                        const hw::DeviceInfo& info, const Ceiling& ceiling, const catalog::Shape& shape,
                        at::ScalarType dtype, const PlausibilityBound& bound) {
  // A secret seed: inputs no candidate can have prepared answers for.
  const uint64_t seed = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
  TimingOptions opt;
  if (!device.is_cuda()) {
    opt.min_samples = 5;
    opt.max_samples = 50;
    opt.target_rel_error = 0.01;
  }
  const auto timed = time_candidate(type, kernel, device, shape, dtype, seed, opt);
  const auto& kernel_stats = timed.stats;
  const auto eager_stats = time_eager(type, device, shape, dtype, seed, opt);

  const double flops = type.flops(shape), bytes = type.bytes(shape, dtype);
  const double t = kernel_stats.median_ms * 1e-3, tr = eager_stats.median_ms * 1e-3;
  TimingResult r;
  r.shape = shape.label;
  r.dims = shape.dims;
  r.dtype = catalog::dtype_name(dtype);
  r.kernel_us = kernel_stats.median_ms * 1e3;
  r.kernel_min_us = kernel_stats.min_ms * 1e3;
  r.kernel_spread = kernel_stats.rel_spread;
  r.kernel_samples = kernel_stats.samples;
  r.reference_us = eager_stats.median_ms * 1e3;
  r.reference_spread = eager_stats.rel_spread;
  r.reference_samples = eager_stats.samples;
  r.speedup_vs_reference = t > 0 ? tr / t : 0.0;
  r.flops = flops;
  r.bytes = bytes;
  r.tflops = t > 0 ? flops / t / 1e12 : 0.0;
  r.gb_s = t > 0 ? bytes / t / 1e9 : 0.0;
  r.reference_gb_s = tr > 0 ? bytes / tr / 1e9 : 0.0;
  r.reference_tflops = tr > 0 ? flops / tr / 1e12 : 0.0;
  r.arithmetic_intensity = flops / bytes;
  r.timed_failure = timed.failure;
  // Roofline: memory- or compute-bound by the datasheet ridge point, else by the measured one.
  const double peak_tflops = info.spec ? hw::peak_tflops(*info.spec, r.dtype == "f32"   ? "tf32"
                                                                     : r.dtype == "f16" ? "fp16"
                                                                                        : "bf16")
                                       : ceiling.matmul_tflops;
  const double peak_bw = info.spec ? info.spec->bandwidth_gb_s : ceiling.copy_gb_s;
  const double ridge = peak_tflops * 1e12 / (peak_bw * 1e9);
  const bool memory_bound = flops / bytes < ridge;
  r.bound = memory_bound ? "memory" : "compute";
  r.ridge_point = ridge;
  r.pct_of_ceiling = memory_bound ? 100.0 * r.gb_s / ceiling.copy_gb_s : 100.0 * r.tflops / ceiling.matmul_tflops;
  if (info.spec) r.pct_of_peak = memory_bound ? 100.0 * r.gb_s / peak_bw : 100.0 * r.tflops / peak_tflops;
  // Too good to believe: flag it, and measure again with the method that sees every stream and thread.
  const auto reasons = implausible_reasons(r.speedup_vs_reference, r.pct_of_peak, bound);
  if (!reasons.empty() && r.timed_failure.empty()) {
    r.implausible = reasons;
    TimingOptions sync_opt = opt;
    sync_opt.method = TimingMethod::synchronized;
    const auto again = time_candidate(type, kernel, device, shape, dtype, seed ^ 0x5eed5eedULL, sync_opt);
    const auto eager_again = time_eager(type, device, shape, dtype, seed, sync_opt);
    const auto empty = SampleTimer(device).time([](int) {}, [](int) {}, [](int) {}, sync_opt);
    Remeasurement m{kernel_stats.median_ms, kernel_stats.host_call_ms, again.stats.median_ms, empty.median_ms};
    Remeasured re;
    re.kernel_us = again.stats.median_ms * 1e3;
    re.reference_us = eager_again.median_ms * 1e3;
    re.speedup_vs_reference = again.stats.median_ms > 0 ? eager_again.median_ms / again.stats.median_ms : 0.0;
    re.empty_call_us = empty.median_ms * 1e3;
    re.host_call_us = kernel_stats.host_call_ms * 1e3;
    re.confirmed = again.failure.empty() && remeasurement_confirms(m);
    re.failure = again.failure;
    if (!again.failure.empty()) r.timed_failure = again.failure;  // wrong is wrong, whichever measurement saw it
    r.remeasured = re;
  }
  return r;
}

std::vector<catalog::Shape> timing_shapes(const catalog::KernelType& type, const WorkerOptions& o, double budget) {
  if (!o.timing_shapes.empty()) return o.timing_shapes;  // asked for by name: timed as given
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
  auto device_event = device_json(info);
  if (candidate->backend == "cuda") {
    // What this device's builds target, for a parent that compiles candidates ahead (loop/compile_ahead).
    if (auto arch = backends::cuda_arch_for_build(); arch) device_event["build_arch"] = *arch;
  }
  emit(device_event);

  const auto t0 = std::chrono::steady_clock::now();
  emit({{"event", "compile_start"}});
  auto kernel = (*backend)->load(*candidate);
  if (!kernel) return error("compile", kernel.error());
  emit({{"event", "compiled"},
        {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}});

  double budget = 0;
  if (!device->is_cuda()) budget = candidate->backend == "triton" ? k_interpreter_case_budget : k_cpu_case_budget;
  StageOptions so;
  so.quick = o.quick;
  so.max_case_cost = budget;
  so.model_shapes = o.model_shapes;
  const auto outcome = run_stages(**type, **kernel, *device, so, emit);
  if (outcome.passed && o.timing) {
    std::vector<at::ScalarType> dtypes;
    for (const auto& name : o.timing_dtypes.empty() ? std::vector<std::string>{o.timing_dtype} : o.timing_dtypes) {
      auto dtype = catalog::parse_dtype(name);
      if (!dtype) return error("input", dtype.error());
      dtypes.push_back(*dtype);
    }
    emit({{"event", "timing_start"}});
    const auto ceiling = measured_ceiling(*device, info);
    emit({{"event", "ceiling"},
          {"copy_gb_s", ceiling.copy_gb_s},
          {"matmul_tflops", ceiling.matmul_tflops},
          {"matmul_what", ceiling.matmul_what}});
    for (const auto& s : timing_shapes(**type, o, budget)) {
      for (const auto dtype : dtypes) {
        // A hang or crash is attributed to this case: name the dtype when there are several.
        const auto name = dtypes.size() > 1 ? s.label + " " + catalog::dtype_name(dtype) : s.label;
        emit({{"event", "case_start"}, {"stage", "timing"}, {"case", name}});
        auto timing = time_shape(**type, **kernel, *device, info, ceiling, s, dtype, PlausibilityBound{o.max_speedup});
        auto ev = timing.to_json();
        ev["event"] = "timing";
        emit(ev);
      }
    }
  }
  emit({{"event", "done"}});
  std::cout.flush();
  // Leave at once: a candidate's device fault or stray thread must not turn into a hang at exit.
  std::_Exit(0);
}

}  // namespace ak::harness

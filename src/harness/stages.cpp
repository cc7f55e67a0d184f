#include "harness/stages.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "harness/compare.hpp"
#include "harness/integrity.hpp"
#include "harness/stage_result.hpp"
#include "harness/timing.hpp"

namespace ak::harness {
namespace {

/// Adversarial inputs are ill-conditioned on purpose; a correct kernel's rounding is amplified, so the
/// per-dtype tolerance is widened by this factor there (the original system used 10).
constexpr double k_adversarial_tolerance_factor = 4.0;
constexpr int k_determinism_runs = 3;

struct Case {
  std::string label;
  catalog::InputSpec spec;
  catalog::Tolerance tol;
};

struct CaseResult {
  bool ok = true;
  std::string message;
  Comparison cmp;
};

std::string case_label(const catalog::Shape& s, at::ScalarType dtype, const std::string& gen,
                       const std::string& layout) {
  return fmt::format("{} {} {}{}{}", s.label, catalog::shape_string(s.dims), catalog::dtype_name(dtype),
                     gen == "random" ? "" : " " + gen, layout == "contiguous" ? "" : " " + layout);
}

/// Run the candidate `runs` times on one problem; every run must match the oracle, and for runs > 1 every
/// run must be bitwise equal to the first.
CaseResult run_case(const catalog::KernelType& type, backends::LoadedKernel& kernel, const at::Device& device,
                    const Case& c, int runs) {
  auto problem = type.make_problem(c.spec, device);
  std::vector<at::Tensor> snapshot;
  for (const auto& t : problem.inputs) snapshot.push_back(t.clone());
  const auto input_bindings = bindings(problem.inputs);
  // The oracle is computed only after the candidate's last run (from inputs proven unchanged), so it is
  // never in memory while the candidate runs, and a stray write can never reach it.
  std::vector<std::vector<at::Tensor>> results;
  for (int run = 0; run < runs; ++run) {
    auto outs = allocate_outputs(problem, device);
    for (auto& o : outs) poison(o);
    const auto output_bindings = bindings(outs);
    synchronize(device);
    if (auto r = kernel.call(problem.inputs, outs, problem.scalars); !r) return {false, r.error().message, {}};
    synchronize(device);
    for (const auto& e :
         {rebinding_error(input_bindings, problem.inputs, "input"), rebinding_error(output_bindings, outs, "output")}) {
      if (!e.empty()) return {false, e, {}};
    }
    for (std::size_t i = 0; i < problem.inputs.size(); ++i) {
      if (!bitwise_equal(problem.inputs[i], snapshot[i])) {
        return {false, fmt::format("the candidate modified input {} (inputs are read-only)", i), {}};
      }
    }
    results.push_back(outs);
  }
  const auto ref = type.reference(problem);
  for (int run = 0; run < runs; ++run) {
    const auto& outs = results[run];
    for (std::size_t i = 0; i < outs.size(); ++i) {
      auto cmp = compare(outs[i], ref[i], c.tol, type.error_scale(problem, ref[i]));
      if (!cmp.ok) {
        auto msg = outs.size() > 1 ? fmt::format("output {}: {}", i, cmp.message) : cmp.message;
        if (run > 0) msg = fmt::format("run {} of {}: {}", run + 1, runs, msg);
        return {false, msg, cmp};
      }
    }
    if (run == 0) continue;
    for (std::size_t i = 0; i < outs.size(); ++i) {
      if (!bitwise_equal(outs[i], results[0][i])) {
        auto diff = (outs[i].to(at::kDouble) - results[0][i].to(at::kDouble)).abs();
        return {false,
                fmt::format("run {} differs from run 1 (max difference {:.3g}, {} elements): results depend on "
                            "run order or timing",
                            run + 1, diff.max().item<double>(), diff.gt(0).sum().item<int64_t>()),
                {}};
      }
    }
  }
  return {};
}

}  // namespace

std::vector<at::Tensor> allocate_outputs(const catalog::Problem& p, const at::Device& device) {
  std::vector<at::Tensor> outs;
  for (std::size_t i = 0; i < p.output_shapes.size(); ++i) {
    const auto options = at::TensorOptions().dtype(p.output_dtypes[i]).device(device);
    outs.push_back(i < p.output_strides.size() && !p.output_strides[i].empty()
                       ? at::empty_strided(p.output_shapes[i], p.output_strides[i], options)
                       : at::empty(p.output_shapes[i], options));
  }
  return outs;
}

std::string_view stage_name(Stage s) {
  switch (s) {
    case Stage::smoke:
      return "smoke";
    case Stage::shape_sweep:
      return "shape_sweep";
    case Stage::adversarial:
      return "adversarial";
    case Stage::determinism:
      return "determinism";
    case Stage::edge_sizes:
      return "edge_sizes";
  }
  return "?";
}

StagesOutcome run_stages(const catalog::KernelType& type, backends::LoadedKernel& kernel, const at::Device& device,
                         const StageOptions& options, const EventSink& emit) {
  const auto dtypes = options.dtypes.empty() ? type.dtypes() : options.dtypes;
  auto emit_stage = [&](const StageResult& r) {
    auto ev = r.to_json();
    ev["event"] = "stage";
    emit(ev);
  };
  auto seconds_since = [](std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  // The type's input layouts, taken in turn: case (i, j) of a stage, i its shape (or generator) and j its dtype,
  // gets layout (i + j) % n, so a shape meets every layout over its dtypes and a dtype over the shapes; a stage
  // of one case (smoke, determinism) takes the first, the one timed.
  const auto layouts = type.layouts();
  auto make = [&](const catalog::Shape& s, at::ScalarType dt, const std::string& gen, std::size_t turn,
                  double tol_factor = 1.0) {
    auto tol = type.tolerance(dt);
    tol.atol *= tol_factor;
    tol.rtol *= tol_factor;
    const catalog::InputSpec spec{s, dt, gen, 42, layouts[turn % layouts.size()]};
    return Case{case_label(s, dt, gen, type.layout_of(spec)), spec, tol};  // a shape may fix its layout
  };
  auto fits = [&](const catalog::Shape& s) {
    return options.max_case_cost <= 0 || type.cost(s) <= options.max_case_cost;
  };

  std::vector<std::pair<Stage, std::vector<Case>>> plan;
  plan.push_back({Stage::smoke, {make(type.smoke_shape(), dtypes.front(), "random", 0)}});
  {
    std::vector<Case> cases;
    auto shapes = options.model_shapes;
    for (const auto& s : type.sweep_shapes()) shapes.push_back(s);
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      for (std::size_t j = 0; j < dtypes.size(); ++j) cases.push_back(make(shapes[i], dtypes[j], "random", i + j));
    }
    plan.push_back({Stage::shape_sweep, cases});
  }
  if (!options.quick) {
    std::vector<Case> adv;
    const auto gens = type.adversarial_generators();
    for (std::size_t i = 0; i < gens.size(); ++i) {
      for (std::size_t j = 0; j < dtypes.size(); ++j) {
        // Adversarial inputs target the pitfalls of 16-bit storage (overflow, lost increments).
        if (dtypes[j] == at::kFloat) continue;
        adv.push_back(make(type.adversarial_shape(), dtypes[j], gens[i], i + j, k_adversarial_tolerance_factor));
      }
    }
    plan.push_back({Stage::adversarial, adv});
    // Determinism: the largest sweep shape this backend can afford, where races have room to show.
    catalog::Shape det = type.smoke_shape();
    for (const auto& s : type.sweep_shapes()) {
      if (fits(s) && type.cost(s) > type.cost(det)) det = s;
    }
    plan.push_back({Stage::determinism, {make(det, dtypes.front(), "random", 0)}});
    std::vector<Case> edges;
    const auto edge_shapes = type.edge_shapes();
    for (std::size_t i = 0; i < edge_shapes.size(); ++i) {
      for (std::size_t j = 0; j < dtypes.size(); ++j) edges.push_back(make(edge_shapes[i], dtypes[j], "random", i + j));
    }
    plan.push_back({Stage::edge_sizes, edges});
  }

  // Each stage draws its own values: a later stage never repeats an earlier one's inputs, so nothing an
  // earlier case left in memory (a remembered result, a freed oracle) answers a later one.
  for (auto& [stage, cases] : plan) {
    for (auto& c : cases) c.spec.seed = 42 + 1000 * static_cast<uint64_t>(stage);
  }

  StagesOutcome outcome;
  for (auto& [stage, cases] : plan) {
    const int n = static_cast<int>(stage);
    int ran = 0, skipped = 0;
    const auto stage_start = std::chrono::steady_clock::now();
    // Every stage runs at least its cheapest shape, whatever the budget: no stage is skipped outright.
    double cheapest = std::numeric_limits<double>::max();
    for (const auto& c : cases) cheapest = std::min(cheapest, type.cost(c.spec.shape));
    for (const auto& c : cases) {
      if (!fits(c.spec.shape) && type.cost(c.spec.shape) > cheapest) {
        ++skipped;
        emit({{"event", "case"},
              {"stage", n},
              {"case", c.label},
              {"status", "skip"},
              {"message", "too large for this backend's budget"}});
        continue;
      }
      emit({{"event", "case_start"}, {"stage", n}, {"case", c.label}});
      const auto t0 = std::chrono::steady_clock::now();
      CaseResult r;
      try {
        r = run_case(type, kernel, device, c, stage == Stage::determinism ? k_determinism_runs : 1);
      } catch (const std::exception& e) {
        // Typically an asynchronous device fault (illegal address) surfacing at the next synchronise.
        std::string what = e.what();
        if (auto nl = what.find('\n'); nl != std::string::npos) what = what.substr(0, nl);
        r = {false, fmt::format("runtime error: {}", what), {}};
        outcome.device_lost = device.is_cuda();
      }
      ++ran;
      nlohmann::json ev = {{"event", "case"},
                           {"stage", n},
                           {"case", c.label},
                           {"status", r.ok ? "pass" : "fail"},
                           {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()}};
      if (!r.ok) {
        ev["message"] = r.message;
        ev["max_abs_err"] = r.cmp.max_abs_err;
        ev["max_rel_err"] = r.cmp.max_rel_err;
        ev["first_bad_index"] = r.cmp.first_bad;
      }
      emit(ev);
      if (!r.ok) {
        outcome = {false, n, c.label, r.message, outcome.device_lost};
        emit_stage(StageResult{n, std::string(stage_name(stage)), StageStatus::fail, ran, skipped, c.label, r.message,
                               seconds_since(stage_start)});
        return outcome;
      }
    }
    emit_stage(StageResult{n, std::string(stage_name(stage)), ran > 0 ? StageStatus::pass : StageStatus::skip, ran,
                           skipped, "", "", seconds_since(stage_start)});
  }
  return outcome;
}

}  // namespace ak::harness

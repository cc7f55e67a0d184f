#include "harness/timing_result.hpp"

#include <fmt/format.h>

namespace ak::harness {

nlohmann::json TimingResult::to_json() const {
  nlohmann::json j = {{"shape", shape},
                      {"dims", dims},
                      {"dtype", dtype},
                      {"kernel_us", kernel_us},
                      {"kernel_min_us", kernel_min_us},
                      {"kernel_spread", kernel_spread},
                      {"kernel_samples", kernel_samples},
                      {"reference_us", reference_us},
                      {"reference_spread", reference_spread},
                      {"reference_samples", reference_samples},
                      {"speedup_vs_reference", speedup_vs_reference},
                      {"flops", flops},
                      {"bytes", bytes},
                      {"tflops", tflops},
                      {"gb_s", gb_s},
                      {"reference_gb_s", reference_gb_s},
                      {"reference_tflops", reference_tflops},
                      {"arithmetic_intensity", arithmetic_intensity},
                      {"bound", bound},
                      {"ridge_point", ridge_point},
                      {"pct_of_ceiling", pct_of_ceiling}};
  if (pct_of_peak) j["pct_of_peak"] = *pct_of_peak;
  if (!timed_failure.empty()) j["timed_failure"] = timed_failure;
  if (!implausible.empty()) j["implausible"] = implausible;
  if (remeasured) {
    const auto& r = *remeasured;
    j["remeasured"] = {{"method", r.method},
                       {"kernel_us", r.kernel_us},
                       {"reference_us", r.reference_us},
                       {"speedup_vs_reference", r.speedup_vs_reference},
                       {"empty_call_us", r.empty_call_us},
                       {"host_call_us", r.host_call_us},
                       {"confirmed", r.confirmed}};
    if (!r.failure.empty()) j["remeasured"]["failure"] = r.failure;
  }
  return j;
}

Expected<TimingResult> TimingResult::from_json(const nlohmann::json& j) {
  try {
    TimingResult t;
    t.shape = j.at("shape").get<std::string>();
    t.dims = j.at("dims").get<std::vector<int64_t>>();
    t.dtype = j.at("dtype").get<std::string>();
    t.kernel_us = j.at("kernel_us").get<double>();
    t.kernel_min_us = j.value("kernel_min_us", 0.0);
    t.kernel_spread = j.value("kernel_spread", 0.0);
    t.kernel_samples = j.value("kernel_samples", 0);
    t.reference_us = j.value("reference_us", 0.0);
    t.reference_spread = j.value("reference_spread", 0.0);
    t.reference_samples = j.value("reference_samples", 0);
    t.speedup_vs_reference = j.value("speedup_vs_reference", 0.0);
    t.flops = j.value("flops", 0.0);
    t.bytes = j.value("bytes", 0.0);
    t.tflops = j.value("tflops", 0.0);
    t.gb_s = j.value("gb_s", 0.0);
    t.reference_gb_s = j.value("reference_gb_s", 0.0);
    t.reference_tflops = j.value("reference_tflops", 0.0);
    t.arithmetic_intensity = j.value("arithmetic_intensity", 0.0);
    t.bound = j.value("bound", "");
    t.ridge_point = j.value("ridge_point", 0.0);
    t.pct_of_ceiling = j.value("pct_of_ceiling", 0.0);
    if (j.contains("pct_of_peak")) t.pct_of_peak = j.at("pct_of_peak").get<double>();
    t.timed_failure = j.value("timed_failure", "");
    t.implausible = j.value("implausible", std::vector<std::string>{});
    if (j.contains("remeasured")) {
      const auto& m = j.at("remeasured");
      Remeasured r;
      r.method = m.value("method", "synchronized");
      r.kernel_us = m.value("kernel_us", 0.0);
      r.reference_us = m.value("reference_us", 0.0);
      r.speedup_vs_reference = m.value("speedup_vs_reference", 0.0);
      r.empty_call_us = m.value("empty_call_us", 0.0);
      r.host_call_us = m.value("host_call_us", 0.0);
      r.confirmed = m.value("confirmed", false);
      r.failure = m.value("failure", "");
      t.remeasured = r;
    }
    return t;
  } catch (const nlohmann::json::exception& e) {
    return fail(fmt::format("a timing result the worker sent is malformed: {}", e.what()));
  }
}

}  // namespace ak::harness

// Each trick that fooled a public agent benchmark, played by a candidate in tests/data/cheat_kernels/,
// and the defence that catches it: with which outcome, at which stage (6: a timed run), and what it says.
#include <gtest/gtest.h>

#include "backends/backend.hpp"
#include "catalog/kernel_type.hpp"
#include "harness/compare.hpp"
#include "harness/integrity.hpp"
#include "harness/stages.hpp"
#include "loop/keep_rule.hpp"
#include "test_support.hpp"

namespace ak {
namespace {

using harness::Outcome;

std::filesystem::path cheat(const std::string& name) { return test::source_dir() / "tests/data/cheat_kernels" / name; }

/// Bench with timing at one shape, as the loop does.
harness::BenchReport bench_timed(const std::filesystem::path& kernel, double max_speedup = 10) {
  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  harness::BenchRequest req;
  req.kernel_path = kernel.string();
  req.max_timing_shapes = 1;
  req.max_speedup = max_speedup;
  req.case_timeout = std::chrono::seconds(120);
  auto rep = harness::run_bench(req, nullptr);
  if (!rep) throw std::runtime_error(rep.error().message);
  return *rep;
}

void expect_caught(const harness::BenchReport& rep, int stage, const std::string& message_part) {
  EXPECT_EQ(harness::outcome_name(rep.outcome), harness::outcome_name(Outcome::incorrect)) << rep.message;
  EXPECT_EQ(rep.failed_stage, stage) << rep.message;
  EXPECT_NE(rep.message.find(message_part), std::string::npos) << "message was: " << rep.message;
}

TEST(Integrity, ACacheKeyedByInputAddressIsWrongOnceTimedInputsChangeValues) {
  // It passes all five stages: only the timing's fresh values at reused addresses expose it.
  const auto rep = bench_timed(cheat("caches_by_address.cpp"));
  for (const auto& s : rep.stages) EXPECT_EQ(s.status, harness::StageStatus::pass) << s.to_json().dump();
  expect_caught(rep, 6, "a timed run was wrong");
  EXPECT_NE(rep.message.find("out of tolerance"), std::string::npos) << rep.message;
}

TEST(Integrity, ReplayingTheFirstResultOfAShapeFailsWhenTheValuesChange) {
  expect_caught(test::bench(cheat("replays_first_result.cpp")), 3, "out of tolerance");
}

TEST(Integrity, CopyingTheInputToTheOutputIsOutOfTolerance) {
  expect_caught(test::bench(cheat("copies_input.cpp")), 1, "out of tolerance");
}

TEST(Integrity, LaunchingNothingWhileTimedLeavesThePoisonInATimedOutput) {
  const auto rep = bench_timed(cheat("writes_nothing_when_timed.cpp"));
  expect_caught(rep, 6, "never written");
}

TEST(Integrity, WorkLeftRunningAfterTheCallReturnsIsMissingFromTheSnapshot) {
  const auto rep = bench_timed(cheat("works_after_returning.cpp"));
  // The cheat's thread races the worker: where the worker has freed the outputs before the thread is done
  // (a loaded machine descheduling the thread), its late writes kill the worker at the same timed stage.
  // Either way the work done after the call returned counted for nothing.
  if (rep.outcome == Outcome::crashed) {
    EXPECT_EQ(rep.failed_stage, 6) << rep.message;
    EXPECT_NE(rep.message.find("the worker died of signal"), std::string::npos) << rep.message;
    return;
  }
  expect_caught(rep, 6, "never written");
}

TEST(Integrity, RebindingAnOutputToAnInputIsCaught) {
  expect_caught(test::bench(cheat("rebinds_output_to_input.py")), 1, "rebound output 0");
}

TEST(Integrity, RebindingAnOutputToARightAnswerElsewhereIsCaughtThoughTheValuesWouldPass) {
  expect_caught(test::bench(cheat("rebinds_output_to_result.py")), 1, "rebound output 0");
}

TEST(Integrity, TheOracleIsNeverInMemoryWhileTheCandidateRuns) {
  // The cheat searches its process's memory for the answer on every call, checks and timed calls alike;
  // it returns 42 ("ak_kernel returned 42") if it ever finds it.
  const auto rep = bench_timed(cheat("reads_the_reference.cpp"));
  EXPECT_TRUE(rep.passed()) << rep.message;
  EXPECT_EQ(rep.message.find("returned 42"), std::string::npos) << rep.message;
  ASSERT_EQ(rep.timings.size(), 1u);
}

TEST(Integrity, TheMemorySearchOfTheReferenceReaderFindsAnOracleThatIsInMemory) {
  // The control for the test above: here the oracle is computed before the call, and the cheat finds it.
  auto backend = backends::make_backend("cpu");
  ASSERT_TRUE(backend.has_value());
  auto candidate = backends::load_candidate(cheat("reads_the_reference.cpp"), "");
  ASSERT_TRUE(candidate.has_value()) << candidate.error().message;
  auto kernel = (*backend)->load(*candidate);
  ASSERT_TRUE(kernel.has_value()) << kernel.error().message;
  const auto& type = **catalog::find_type("rmsnorm");
  const at::Device cpu(at::kCPU);
  auto p = type.make_problem({type.smoke_shape(), at::kHalf, "random", 7}, cpu);
  const auto ref = type.reference(p);  // in memory during the call, as a careless harness would have it
  auto outs = harness::allocate_outputs(p, cpu);
  for (auto& o : outs) harness::poison(o);
  auto r = (*kernel)->call(p.inputs, outs, p.scalars);
  ASSERT_FALSE(r.has_value()) << "the cheat should have found the oracle in memory";
  EXPECT_NE(r.error().message.find("returned 42"), std::string::npos) << r.error().message;
  EXPECT_TRUE(harness::compare(outs[0], ref[0], type.tolerance(at::kHalf)).ok) << "it copied the answer";
}

TEST(Integrity, CopyingAnyInputIntoAnOutputOfItsShapeFailsForEveryKernelType) {
  // The catalog's inputs are drawn so that no input is close to an output (a norm's weight is not ones,
  // ...): a candidate that returns an input is never within tolerance.
  const at::Device cpu(at::kCPU);
  for (const auto& type : catalog::all_types()) {
    for (auto dtype : {at::kHalf, at::kFloat}) {
      auto p = type->make_problem({type->smoke_shape(), dtype, "random", 3}, cpu);
      const auto ref = type->reference(p);
      for (std::size_t o = 0; o < p.output_shapes.size(); ++o) {
        for (std::size_t i = 0; i < p.inputs.size(); ++i) {
          if (p.inputs[i].sizes() != p.output_shapes[o] || p.inputs[i].scalar_type() != p.output_dtypes[o]) continue;
          auto cmp = harness::compare(p.inputs[i], ref[o], type->tolerance(dtype), type->error_scale(p, ref[o]));
          EXPECT_FALSE(cmp.ok) << type->name() << " " << c10::toString(dtype) << ": input " << i << " passes as output "
                               << o;
        }
      }
    }
  }
}

TEST(Integrity, AnImplausibleSpeedupIsFlaggedReMeasuredAndConfirmedForAnHonestKernel) {
  // A bound below any real speed-up flags an honest starter; the re-measurement, which sees every thread,
  // agrees with the first measurement, so it is confirmed and its note says both.
  const auto rep = bench_timed(test::starter("rmsnorm", "cpu.cpp"), /*max_speedup=*/1e-6);
  ASSERT_TRUE(rep.passed()) << rep.message;
  EXPECT_TRUE(rep.flagged());
  EXPECT_TRUE(rep.confirmed()) << rep.plausibility_note();
  EXPECT_NE(rep.plausibility_note().find("faster than PyTorch (bound 1e-06x)"), std::string::npos)
      << rep.plausibility_note();
  ASSERT_TRUE(rep.primary()->remeasured);
  EXPECT_GT(rep.primary()->remeasured->kernel_us, 0.0);
}

TEST(Integrity, TheImplausibilityReasonsNameTheBoundThatWasCrossed) {
  const harness::PlausibilityBound bound;
  EXPECT_TRUE(harness::implausible_reasons(9.9, 80.0, bound).empty());
  const auto fast = harness::implausible_reasons(12.0, std::nullopt, bound);
  ASSERT_EQ(fast.size(), 1u);
  EXPECT_NE(fast[0].find("12.0x faster than PyTorch (bound 10x)"), std::string::npos) << fast[0];
  const auto roof = harness::implausible_reasons(2.0, 130.0, bound);
  ASSERT_EQ(roof.size(), 1u);
  EXPECT_NE(roof[0].find("130% of the datasheet roofline"), std::string::npos) << roof[0];
}

TEST(Integrity, AReMeasurementConfirmsOnlyWhatTheEventsCouldHaveSeen) {
  // Honest: 10 us of device time, 4 us to launch; synchronised, 30 us of which 15 are the method's own.
  EXPECT_TRUE(harness::remeasurement_confirms({0.010, 0.004, 0.030, 0.015}));
  // Another stream: the events saw 2 us, the work took 40 us more than the method's own cost.
  EXPECT_FALSE(harness::remeasurement_confirms({0.002, 0.004, 0.055, 0.015}));
}

harness::BenchReport report_with(double kernel_us, bool flagged, bool confirmed) {
  harness::BenchReport rep;
  rep.outcome = Outcome::passed;
  harness::TimingResult t;
  t.kernel_us = kernel_us;
  if (flagged) {
    t.implausible = {"50.0x faster than PyTorch (bound 10x)"};
    harness::Remeasured m;
    m.kernel_us = 40.0;
    m.speedup_vs_reference = 1.1;
    m.confirmed = confirmed;
    t.remeasured = m;
  }
  rep.timings.push_back(t);
  return rep;
}

TEST(Integrity, TheLoopKeepsAFlaggedResultOnlyWhenTheReMeasurementConfirmsIt) {
  EXPECT_EQ(loop::judge(report_with(10, false, false), 40, 0, 0.01), workspace::Status::kept);
  EXPECT_EQ(loop::judge(report_with(10, true, true), 40, 0, 0.01), workspace::Status::kept);
  EXPECT_EQ(loop::judge(report_with(10, true, false), 40, 0, 0.01), workspace::Status::implausible);
  EXPECT_EQ(loop::judge(report_with(50, true, false), 40, 0, 0.01), workspace::Status::reverted);  // not faster anyway
  auto wrong = report_with(10, false, false);
  wrong.outcome = Outcome::incorrect;
  EXPECT_EQ(loop::judge(wrong, 40, 0, 0.01), workspace::Status::incorrect);
}

}  // namespace
}  // namespace ak

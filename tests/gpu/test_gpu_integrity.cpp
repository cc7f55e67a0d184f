// On a GPU: the tricks only a GPU allows, and a device fault in the middle of a run. Skipped without one.
#include <gtest/gtest.h>

#include "backends/backend.hpp"
#include "workspace/results_log.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

TEST(GpuIntegrity, WorkOnAnotherStreamIsCaughtBySnapshotOrNotConfirmedByReMeasurement) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
  ::setenv("AUTOKERNEL_BINARY", AK_BINARY, 1);
  harness::BenchRequest req;
  req.kernel_path = (test::source_dir() / "tests/data/cheat_kernels/side_stream.cu").string();
  req.max_timing_shapes = 1;
  req.case_timeout = std::chrono::seconds(300);
  auto rep = harness::run_bench(req, nullptr);
  ASSERT_TRUE(rep.has_value()) << rep.error().message;
  // It is correct once the device is synchronised: every stage passes.
  for (const auto& s : rep->stages) EXPECT_EQ(s.status, harness::StageStatus::pass) << s.to_json().dump();
  if (!rep->passed()) {
    EXPECT_EQ(rep->failed_stage, 6) << rep->message;
    EXPECT_NE(rep->message.find("a timed run was wrong"), std::string::npos) << rep->message;
  } else {
    // The snapshot happened to see it finished: then the speed it claims is flagged and not confirmed.
    EXPECT_TRUE(rep->flagged()) << (rep->primary() ? rep->primary()->to_json().dump() : "no timing");
    EXPECT_FALSE(rep->confirmed()) << rep->plausibility_note();
  }
}

/// The CUDA rmsnorm starter with one knob of our own: FAULT=1 writes to an unmapped device address first.
std::filesystem::path faulting_starter(const std::filesystem::path& dir) {
  auto text = *util::read_file(test::starter("rmsnorm", "cuda.cu"));
  for (const std::string tag : {"@autokernel", "@knob"}) {
    for (std::size_t pos; (pos = text.find(tag)) != std::string::npos;) text.replace(pos, tag.size(), "(starter)");
  }
  const std::string head =
      "// @autokernel type=rmsnorm\n"
      "// @knob FAULT=0 {0,1,2} 1 makes an illegal memory access\n"
      "#ifndef FAULT\n#define FAULT 0\n#endif\n"
      "#define ak_kernel ak_kernel_starter\n";
  const std::string tail =
      "\n#undef ak_kernel\n"
      "__global__ void ak_fault(float* p) { p[threadIdx.x] = 1.0f; }\n"
      "extern \"C\" int ak_kernel(const ak_call* c) {\n"
      "  if (FAULT == 1) ak_fault<<<1, 32, 0, (cudaStream_t)c->stream>>>((float*)0x10);\n"
      "  return ak_kernel_starter(c);\n"
      "}\n";
  std::filesystem::create_directories(dir);
  const auto file = dir / "rmsnorm_fault.cu";
  EXPECT_TRUE(util::write_file_atomic(file, head + text + tail).has_value());
  return file;
}

TEST(GpuIntegrity, AnIllegalMemoryAccessDoesNotPoisonTheNextExperimentOfTheRun) {
  if (!backends::cuda_available()) GTEST_SKIP() << "no GPU here";
  const auto ws = std::filesystem::temp_directory_path() / "ak_ws_gpu_fault";
  (void)util::remove_tree(ws);
  const auto kernel = faulting_starter(std::filesystem::temp_directory_path() / "ak_gpu_fault_src");
  // Baseline FAULT=0, then the search tries the neighbour FAULT=1 (faults), then FAULT=2 (correct). The
  // starter is at ~98% of the copy ceiling, where the loop would call it done after the baseline.
  const auto r = test::autokernel({"run", "--workspace", ws.string(), "--kernel", kernel.string(), "--max-experiments",
                                   "3", "--done-pct", "101", "--tag", "fault"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = *workspace::ResultsLog(ws / "results.tsv").read();
  ASSERT_EQ(rows.size(), 3u) << r.output;
  EXPECT_EQ(rows[0].status, workspace::Status::baseline);
  EXPECT_EQ(rows[1].config, "FAULT=1");
  EXPECT_EQ(rows[1].correctness, "FAIL");
  // The fault surfaces at a synchronisation (reported as a runtime error) or kills the worker.
  EXPECT_TRUE(rows[1].description.find("illegal memory access") != std::string::npos ||
              rows[1].status == workspace::Status::crashed)
      << rows[1].status << ": " << rows[1].description;
  EXPECT_EQ(rows[2].config, "FAULT=2");
  EXPECT_EQ(rows[2].correctness, "PASS") << rows[2].description;
}

}  // namespace
}  // namespace ak

// The build cache: a compiled candidate is reused only while everything it could include is unchanged.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "backends/backend.hpp"
#include "backends/candidate.hpp"
#include "backends/native.hpp"
#include "test_support.hpp"
#include "util/fs.hpp"
#include "util/resources.hpp"

namespace ak::backends {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

/// A cpu candidate whose result comes from two headers: SCALE beside it, OFFSET in the include dir.
constexpr const char* k_source = R"(// @autokernel type=reduce
#include "autokernel/kernel_abi.h"
#include "autokernel/offset.h"
#include "scale.h"
extern "C" int ak_kernel(const ak_call* call) {
  const float* x = (const float*)call->inputs[0].data;
  float* y = (float*)call->outputs[0].data;
  y[0] = x[0] * SCALE + OFFSET;
  return 0;
}
)";

// (util::remove_tree, not std::filesystem::remove_all: libtorch exports a clashing copy of the latter.)

class BuildCache : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() / fmt::format("ak_build_cache_{}_{}", ::getpid(), m_counter++);
    (void)util::remove_tree(m_dir);
    // An include dir of our own: the real ABI header plus a helper header we can edit.
    fs::create_directories(m_dir / "include/autokernel");
    write(m_dir / "include/autokernel/kernel_abi.h",
          util::read_file(util::kernel_include_dir() / "autokernel/kernel_abi.h").value());
    write(m_dir / "include/autokernel/offset.h", "#define OFFSET 1.0f\n");
    write(m_dir / "kernel/scale.h", "#define SCALE 2.0f\n");
    write(m_dir / "kernel/cpu.cpp", k_source);
    m_include.emplace("AUTOKERNEL_INCLUDE", (m_dir / "include").string());
    m_cache.emplace("AUTOKERNEL_CACHE", (m_dir / "cache").string());
  }
  void TearDown() override {
    m_include.reset();
    m_cache.reset();
    (void)util::remove_tree(m_dir);
  }

  /// Build the candidate as it is on disk now; its library's path, and what it computes for x = 3.
  std::pair<fs::path, float> build_and_run() {
    auto backend = make_backend("cpu");
    EXPECT_TRUE(backend.has_value());
    auto c = load_candidate(m_dir / "kernel/cpu.cpp", "");
    EXPECT_TRUE(c.has_value()) << c.error().message;
    auto so = (*backend)->build(*c);
    EXPECT_TRUE(so.has_value()) << so.error().message;
    auto k = (*backend)->load(*c);
    EXPECT_TRUE(k.has_value()) << k.error().message;
    auto x = at::full({1, 1}, 3.0f), y = at::zeros({1});
    EXPECT_TRUE((*k)->call({x}, {y}, {}).has_value());
    return {*so, y.item<float>()};
  }

  /// Build, rewrite one header (a path under the test's folder), build again: another library, and it
  /// computes what the new header says (the stale one would not).
  void expect_rebuild_after_editing(const std::string& header, const std::string& text, float expected) {
    const auto [before, y1] = build_and_run();
    EXPECT_FLOAT_EQ(y1, 3.0f * 2.0f + 1.0f);
    write(m_dir / header, text);
    const auto [after, y2] = build_and_run();
    EXPECT_NE(before, after);
    EXPECT_FLOAT_EQ(y2, expected) << "the stale build was loaded";
  }

  fs::path m_dir;
  std::optional<test::ScopedEnv> m_include, m_cache;
  static inline int m_counter = 0;
};

TEST_F(BuildCache, AnUnchangedCandidateIsReused) {
  const auto [first, y1] = build_and_run();
  EXPECT_FLOAT_EQ(y1, 3.0f * 2.0f + 1.0f);
  const auto stamp = fs::last_write_time(first);
  const auto [second, y2] = build_and_run();
  EXPECT_EQ(first, second);
  EXPECT_EQ(fs::last_write_time(second), stamp) << "rebuilt though nothing changed";
}

TEST_F(BuildCache, EditingAHeaderBesideTheCandidateRebuildsIt) {
  expect_rebuild_after_editing("kernel/scale.h", "#define SCALE 5.0f\n", 3.0f * 5.0f + 1.0f);
}

TEST_F(BuildCache, EditingAHeaderInTheIncludeDirRebuildsIt) {
  expect_rebuild_after_editing("include/autokernel/offset.h", "#define OFFSET 10.0f\n", 3.0f * 2.0f + 10.0f);
}

TEST(HeadersKey, NamesAndTextsOfHeadersOnlyInPathOrderAndBelowOnlyWhenRecursive) {
  const auto dir = fs::temp_directory_path() / fmt::format("ak_headers_key_{}", ::getpid());
  (void)util::remove_tree(dir);
  write(dir / "b.h", "B");
  write(dir / "a.cuh", "A");
  write(dir / "notes.txt", "not a header");
  write(dir / "sub/c.hpp", "C");
  const auto flat = native::headers_key(dir, false), deep = native::headers_key(dir, true);
  EXPECT_EQ(flat,
            "a.cuh\x1f"
            "A\x1f"
            "b.h\x1f"
            "B\x1f");
  EXPECT_EQ(deep,
            "a.cuh\x1f"
            "A\x1f"
            "b.h\x1f"
            "B\x1f"
            "sub/c.hpp\x1f"
            "C\x1f");
  EXPECT_EQ(native::headers_key(dir / "missing", true), "");
  (void)util::remove_tree(dir);
}

}  // namespace
}  // namespace ak::backends

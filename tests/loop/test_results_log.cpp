// results.tsv: rows survive a round trip; a torn last line (a killed writer) is ignored.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "loop/results_log.hpp"

namespace ak::loop {
namespace {

std::filesystem::path fresh(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("ak_results_" + name + ".tsv");
  std::filesystem::remove(p);
  return p;
}

TEST(ResultsLog, RowsRoundTripWithAHeaderWrittenOnce) {
  ResultsLog log(fresh("roundtrip"));
  ResultRow r;
  r.experiment = 3;
  r.tag = "t";
  r.kernel = "rmsnorm_cpu";
  r.status = "kept";
  r.latency_us = 12.5;
  r.description = "tabs\tand\nnewlines are flattened";
  ASSERT_TRUE(log.append(r).has_value());
  r.experiment = 4;
  ASSERT_TRUE(log.append(r).has_value());
  auto rows = log.read();
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].experiment, 3);
  EXPECT_EQ((*rows)[1].kernel, "rmsnorm_cpu");
  EXPECT_DOUBLE_EQ((*rows)[1].latency_us, 12.5);
  EXPECT_EQ((*rows)[0].description, "tabs and newlines are flattened");
}

TEST(ResultsLog, ATornLastLineIsIgnored) {
  const auto path = fresh("torn");
  ResultsLog log(path);
  ResultRow r;
  r.kernel = "k";
  ASSERT_TRUE(log.append(r).has_value());
  std::ofstream(path, std::ios::app) << "7\tt\tk\tcpu\tkep";  // a writer killed mid-row
  auto rows = log.read();
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(rows->size(), 1u);
}

TEST(ResultsLog, RowsAppendedByTwoProcessesAtOnceNeverInterleave) {
  const auto path = fresh("concurrent");
  ResultsLog log(path);
  ResultRow header_row;
  ASSERT_TRUE(log.append(header_row).has_value());
  constexpr int k_rows = 200;
  std::vector<pid_t> children;
  for (int child = 0; child < 2; ++child) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ResultRow r;
      r.kernel = child == 0 ? "a" : "b";
      r.description = std::string(3000, child == 0 ? 'a' : 'b');  // rows larger than a pipe's atomic size
      for (int i = 0; i < k_rows; ++i) {
        r.experiment = i;
        if (!log.append(r)) ::_exit(1);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (auto pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto rows = log.read();
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 1u + 2 * k_rows);  // every row parses: none was torn or interleaved
  for (std::size_t i = 1; i < rows->size(); ++i) {
    const auto& r = (*rows)[i];
    EXPECT_EQ(r.description, std::string(3000, r.kernel == "a" ? 'a' : 'b'));
  }
}

TEST(ResultsLog, AMissingFileIsAnEmptyLog) {
  auto rows = ResultsLog(fresh("missing")).read();
  ASSERT_TRUE(rows.has_value());
  EXPECT_TRUE(rows->empty());
}

}  // namespace
}  // namespace ak::loop

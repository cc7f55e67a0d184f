// results.tsv: rows survive a round trip; a torn last line (a killed writer) is ignored; several processes
// append whole rows and take unique experiment numbers.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "workspace/results_log.hpp"

namespace ak::workspace {
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
  r.status = workspace::Status::kept;
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

TEST(ResultsLog, WorkersTakingNumbersAtOnceOnANewFileGetEachOneOnceAndOneHeader) {
  // What the workers of `run --gpus` do: take a number, then (later) append its row, on one file.
  const auto path = fresh("numbers");
  const auto counter = path.parent_path() / ("ak_results_numbers_counter_" + std::to_string(::getpid()));
  std::filesystem::remove(counter);
  ResultsLog log(path);
  constexpr int k_children = 4, k_rows = 40;
  std::vector<pid_t> children;
  for (int child = 0; child < k_children; ++child) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ResultRow r;
      r.kernel = "k" + std::to_string(child);
      r.device = "cpu:" + std::to_string(child);
      r.gpu = "cpu";
      for (int i = 0; i < k_rows; ++i) {
        auto n = log.take_number(counter);
        if (!n) ::_exit(1);
        r.experiment = *n;
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
  ASSERT_EQ(rows->size(), static_cast<std::size_t>(k_children * k_rows));  // one header: no row read as one
  std::set<int> numbers;
  for (const auto& r : *rows) {
    EXPECT_TRUE(numbers.insert(r.experiment).second) << "experiment " << r.experiment << " taken twice";
    EXPECT_EQ(r.device, "cpu:" + r.kernel.substr(1));
    EXPECT_EQ(r.gpu, "cpu");
  }
  EXPECT_EQ(*numbers.rbegin(), k_children * k_rows - 1);  // nobody was killed: no gaps
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  EXPECT_TRUE(first.starts_with("experiment\t")) << first;
  EXPECT_TRUE(first.ends_with("\tdevice\tgpu")) << first;
  std::filesystem::remove(counter);
}

TEST(ResultsLog, AFileWrittenBeforeTheDeviceColumnsIsReadAndAppendedTo) {
  const auto path = fresh("old_columns");
  {
    std::ofstream out(path);
    out << "experiment\ttag\tkernel\tbackend\tstatus\tcorrectness\tthroughput\tthroughput_unit\tlatency_us\tspread\t"
           "pct_of_ceiling\tspeedup_vs_reference\tconfig\tdescription\tcommit\tseconds\n"
        << "0\tt\trmsnorm_cpu\tcpu\tbaseline\tPASS\t1.0\tGB/s\t10.0\t0.01\t5.0\t0.5\tA=1\tbaseline\tabc\t1.5\n";
  }
  ResultsLog log(path);
  ResultRow r;
  r.experiment = 1;
  r.device = "cpu:1";
  ASSERT_TRUE(log.append(r).has_value());
  auto rows = log.read();
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].commit, "abc");
  EXPECT_EQ((*rows)[0].device, "");
  EXPECT_EQ((*rows)[1].device, "cpu:1");
}

TEST(ResultsLog, EveryStatusRoundTripsAndAnUnknownOneIsNotRead) {
  const auto path = fresh("statuses");
  ResultsLog log(path);
  const std::vector<Status> all = {Status::baseline,        Status::kept,           Status::reverted,
                                   Status::implausible,     Status::incorrect,      Status::crashed,
                                   Status::timed_out,       Status::compile_failed, Status::invalid,
                                   Status::proposer_failed, Status::hand_reverted};
  for (std::size_t i = 0; i < all.size(); ++i) {
    ResultRow r;
    r.experiment = static_cast<int>(i);
    r.status = all[i];
    ASSERT_TRUE(log.append(r));
  }
  std::ofstream(path, std::ios::app) << "99\tt\tk\tcpu\tpromoted\tPASS\t0\t\t0\t0\t0\t0\t\t\t\t0\n";
  const auto rows = *log.read();
  ASSERT_EQ(rows.size(), all.size()) << "the row of an unknown status is left out";
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(rows[i].status, all[i]);
}

TEST(ResultsLog, TheBestIsTheLastPassingBaselineOrKeptRow) {
  auto row = [](int n, Status s, const char* correctness) {
    ResultRow r;
    r.experiment = n;
    r.kernel = "k";
    r.status = s;
    r.correctness = correctness;
    return r;
  };
  std::vector<ResultRow> rows = {row(0, Status::baseline, "FAIL"), row(1, Status::baseline, "PASS"),
                                 row(2, Status::kept, "PASS"),     row(3, Status::implausible, "PASS"),
                                 row(4, Status::reverted, "PASS"), row(5, Status::hand_reverted, "-")};
  ASSERT_NE(best_row(rows, "k"), nullptr);
  EXPECT_EQ(best_row(rows, "k")->experiment, 2);
  EXPECT_EQ(best_row(rows, "other"), nullptr);
  rows.resize(1);
  EXPECT_EQ(best_row(rows, "k"), nullptr) << "a baseline that failed is no version of the kernel";
}

TEST(ResultsLog, AMissingFileIsAnEmptyLog) {
  auto rows = ResultsLog(fresh("missing")).read();
  ASSERT_TRUE(rows.has_value());
  EXPECT_TRUE(rows->empty());
}

}  // namespace
}  // namespace ak::workspace

// Starters stay self-contained (a proposer sees one file), so some helpers are copied between them. Each
// copy is a marked region, `@shared begin NAME` ... `@shared end NAME` in a comment, and every copy of
// a region must be the same, byte for byte: a fix made in one copy fails here until the others have it.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "util/fs.hpp"

namespace ak {
namespace {

struct Copy {
  std::string file;
  int line = 0;
  std::string text;
};

/// The regions of one file by name; a malformed marking (unclosed, nested, stray end) is an error string.
std::map<std::string, Copy> regions_of(const std::string& file, const std::string& source, std::string& error) {
  static const std::regex marker(R"(^\s*(//|#)\s*@shared\s+(begin|end)\s+([A-Za-z0-9_]+))");
  std::map<std::string, Copy> out;
  std::istringstream in(source);
  std::string line, open, text;
  int lineno = 0, open_line = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::smatch m;
    if (!std::regex_search(line, m, marker)) {
      if (!open.empty()) text += line + '\n';
      continue;
    }
    const std::string what = m[2], name = m[3];
    if (what == "begin") {
      if (!open.empty()) error = fmt::format("{}:{}: region {} begins inside {}", file, lineno, name, open);
      if (out.contains(name)) error = fmt::format("{}:{}: region {} marked twice", file, lineno, name);
      open = name, open_line = lineno, text.clear();
    } else {
      if (open != name) error = fmt::format("{}:{}: end of {} without its begin", file, lineno, name);
      out[name] = {file, open_line, text};
      open.clear();
    }
  }
  if (!open.empty()) error = fmt::format("{}:{}: region {} never ends", file, open_line, open);
  return out;
}

std::vector<std::filesystem::path> starters() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(test::source_dir() / "kernels")) {
    const auto ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".cu" || ext == ".cpp" || ext == ".py" || ext == ".h"))
      files.push_back(e.path());
  }
  return files;
}

TEST(StarterRegions, EveryCopyOfASharedRegionIsTheSame) {
  std::map<std::string, std::vector<Copy>> copies;
  for (const auto& path : starters()) {
    auto source = util::read_file(path);
    ASSERT_TRUE(source) << source.error().message;
    std::string error;
    const auto rel = std::filesystem::relative(path, test::source_dir()).string();
    for (auto& [name, copy] : regions_of(rel, *source, error)) copies[name].push_back(std::move(copy));
    EXPECT_TRUE(error.empty()) << error;
  }
  ASSERT_FALSE(copies.empty()) << "no @shared region in kernels/: the marking is gone";
  for (const auto& [name, list] : copies) {
    EXPECT_GE(list.size(), 2u) << "region " << name << " has one copy (" << list[0].file << "): unmark it";
    for (const auto& c : list) {
      EXPECT_EQ(c.text, list[0].text) << "region " << name << " differs: " << c.file << ":" << c.line << " against "
                                      << list[0].file << ":" << list[0].line << "; make the copies the same";
    }
  }
}

TEST(StarterRegions, AMalformedMarkingIsNamed) {
  std::string error;
  regions_of("a.cu", "// @shared begin x\nint a;\n", error);
  EXPECT_NE(error.find("a.cu:1: region x never ends"), std::string::npos) << error;
  error.clear();
  regions_of("a.cu", "// @shared begin x\n// @shared begin y\n// @shared end y\n", error);
  EXPECT_NE(error.find("begins inside x"), std::string::npos) << error;
  error.clear();
  regions_of("a.py", "# @shared end z\n", error);
  EXPECT_NE(error.find("end of z without its begin"), std::string::npos) << error;
  error.clear();
  const auto ok = regions_of("a.py", "x = 1\n# @shared begin z\ny = 2\n# @shared end z\n", error);
  EXPECT_TRUE(error.empty()) << error;
  ASSERT_TRUE(ok.contains("z"));
  EXPECT_EQ(ok.at("z").text, "y = 2\n");
  EXPECT_EQ(ok.at("z").line, 2);
}

}  // namespace
}  // namespace ak

// The report as a list of blocks, written out twice: as Markdown (report.md, for a terminal or a git
// host) and as one self-contained HTML page (report.html: styles inline, plots inlined as SVG, nothing
// fetched from anywhere). One model, two writers, so the two files always say the same thing.
#pragma once

#include <filesystem>
#include <string>
#include <variant>
#include <vector>

namespace ak::report {

/// Text in blocks may use `code` and **bold** spans; everything else is literal (escaped as needed).
struct Heading {
  int level = 1;  ///< 1..3
  std::string text;
};
struct Paragraph {
  std::string text;
};
struct BulletList {
  std::vector<std::string> items;
};
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> right_aligned;  ///< per column (numbers); missing entries are left-aligned
};
struct CodeBlock {
  std::string language;  ///< "diff", "" ...
  std::string text;
};
/// A plot: the Markdown links the PNG beside it, the HTML inlines the SVG's markup.
struct Figure {
  std::string caption;
  std::filesystem::path png;  ///< relative to the report's folder
  std::filesystem::path svg;  ///< relative to the report's folder
};

using Block = std::variant<Heading, Paragraph, BulletList, Table, CodeBlock, Figure>;

struct Document {
  std::string title;
  std::vector<Block> blocks;
};

std::string to_markdown(const Document& doc);
/// `dir` is the report's folder: figures' SVG files are read from it and inlined. A figure whose SVG is
/// missing becomes its caption and a note.
std::string to_html(const Document& doc, const std::filesystem::path& dir);

}  // namespace ak::report

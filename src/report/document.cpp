#include "report/document.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "util/fs.hpp"

namespace ak::report {
namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

std::string escape_html(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// The text without its span marks (for <title>, which holds no markup).
std::string plain(std::string s) {
  std::erase(s, '`');
  for (auto at = s.find("**"); at != std::string::npos; at = s.find("**")) s.erase(at, 2);
  return s;
}

/// `code` and **bold** spans to HTML; the rest escaped. An unclosed span runs to the end of the text.
std::string inline_html(const std::string& s) {
  std::string out;
  bool bold = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '`') {
      auto end = s.find('`', i + 1);
      if (end == std::string::npos) end = s.size();
      out += "<code>" + escape_html(s.substr(i + 1, end - i - 1)) + "</code>";
      i = end;
    } else if (s.compare(i, 2, "**") == 0) {
      out += bold ? "</strong>" : "<strong>";
      bold = !bold;
      ++i;
    } else {
      out += escape_html(std::string(1, s[i]));
    }
  }
  if (bold) out += "</strong>";
  return out;
}

/// A table cell must stay on one line and must not end the cell early.
std::string markdown_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

/// A fence longer than any run of backticks in the text, so the text cannot close it.
std::string fence_for(const std::string& text) {
  std::size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

constexpr const char* k_style =
    R"(body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1,h2,h3{line-height:1.2}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;border:1px solid #e3e3e3}
pre code{background:none;padding:0}figure{margin:1em 0}figure svg{max-width:100%;height:auto}
figcaption{color:#555;font-size:.9em}
.missing{color:#a33}.add{color:#1a7f37}.del{color:#cf222e}.hunk{color:#6639ba})";

/// Diff lines coloured by their first character.
std::string diff_html(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const auto line = text.substr(start, end - start);
    const char* cls = line.starts_with("+++") || line.starts_with("---") ? nullptr
                      : line.starts_with('+')                            ? "add"
                      : line.starts_with('-')                            ? "del"
                      : line.starts_with("@@")                           ? "hunk"
                                                                         : nullptr;
    out += cls ? fmt::format("<span class=\"{}\">{}</span>\n", cls, escape_html(line)) : escape_html(line) + "\n";
    start = end + 1;
  }
  return out;
}

/// The SVG file's markup from its <svg> element on (the XML prolog and DOCTYPE cannot sit inside HTML).
std::string inline_svg(const std::filesystem::path& path) {
  auto text = util::read_file(path);
  if (!text) return {};
  const auto at = text->find("<svg");
  return at == std::string::npos ? std::string() : text->substr(at);
}

}  // namespace

std::string to_markdown(const Document& doc) {
  std::string out = fmt::format("# {}\n\n", doc.title);
  for (const auto& block : doc.blocks) {
    std::visit(Overloaded{
                   [&](const Heading& h) { out += fmt::format("{} {}\n\n", std::string(h.level + 1, '#'), h.text); },
                   [&](const Paragraph& p) { out += p.text + "\n\n"; },
                   [&](const BulletList& l) {
                     for (const auto& item : l.items) out += "- " + item + "\n";
                     out += "\n";
                   },
                   [&](const Table& t) {
                     std::string head = "|", rule = "|";
                     for (std::size_t i = 0; i < t.header.size(); ++i) {
                       head += " " + markdown_cell(t.header[i]) + " |";
                       rule += i < t.right_aligned.size() && t.right_aligned[i] ? "---:|" : "---|";
                     }
                     out += head + "\n" + rule + "\n";
                     for (const auto& row : t.rows) {
                       out += "|";
                       for (const auto& cell : row) out += " " + markdown_cell(cell) + " |";
                       out += "\n";
                     }
                     out += "\n";
                   },
                   [&](const CodeBlock& c) {
                     const auto fence = fence_for(c.text);
                     out += fmt::format("{}{}\n{}\n{}\n\n", fence, c.language, c.text, fence);
                   },
                   [&](const Figure& f) {
                     out += fmt::format("![{}]({})\n\n*{}* ([SVG]({}))\n\n", f.caption, f.png.string(), f.caption,
                                        f.svg.string());
                   },
               },
               block);
  }
  return out;
}

std::string to_html(const Document& doc, const std::filesystem::path& dir) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
      "charset=\"utf-8\">\n<title>{}</title>\n<style>\n{}\n</style>\n"
      "</head>\n<body>\n<h1>{}</h1>\n",
      escape_html(plain(doc.title)), k_style, inline_html(doc.title));
  for (const auto& block : doc.blocks) {
    std::visit(
        Overloaded{
            [&](const Heading& h) { out += fmt::format("<h{0}>{1}</h{0}>\n", h.level + 1, inline_html(h.text)); },
            [&](const Paragraph& p) { out += "<p>" + inline_html(p.text) + "</p>\n"; },
            [&](const BulletList& l) {
              out += "<ul>\n";
              for (const auto& item : l.items) out += "<li>" + inline_html(item) + "</li>\n";
              out += "</ul>\n";
            },
            [&](const Table& t) {
              out += "<table>\n<thead><tr>";
              for (const auto& h : t.header) out += "<th>" + inline_html(h) + "</th>";
              out += "</tr></thead>\n<tbody>\n";
              for (const auto& row : t.rows) {
                out += "<tr>";
                for (std::size_t i = 0; i < row.size(); ++i) {
                  const bool num = i < t.right_aligned.size() && t.right_aligned[i];
                  out += (num ? "<td class=\"num\">" : "<td>") + inline_html(row[i]) + "</td>";
                }
                out += "</tr>\n";
              }
              out += "</tbody>\n</table>\n";
            },
            [&](const CodeBlock& c) {
              out +=
                  "<pre><code>" + (c.language == "diff" ? diff_html(c.text) : escape_html(c.text)) + "</code></pre>\n";
            },
            [&](const Figure& f) {
              const auto svg = inline_svg(dir / f.svg);
              if (svg.empty()) {
                out += fmt::format("<p class=\"missing\">{}: not drawn</p>\n", inline_html(f.caption));
              } else {
                out +=
                    fmt::format("<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n", svg, inline_html(f.caption));
              }
            },
        },
        block);
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace ak::report

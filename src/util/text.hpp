// Text that came from outside (an LLM's reply, an agent's output, a compiler's message) made safe to keep:
// valid UTF-8, so it can go into JSON, results.tsv and git without breaking any of them.
#pragma once

#include <string>
#include <string_view>

namespace ak::util {

/// `s` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD, and control
/// characters other than newline and tab (NUL, escape, ...) replaced by a space.
std::string valid_utf8(std::string_view s);

}  // namespace ak::util

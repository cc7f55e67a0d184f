// Errors as values at the boundaries (backends, harness, catalog), one exception type for the top.
#pragma once

#include <expected>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace ak {

/// A failure that a caller may handle: what went wrong, and optionally one hint for the user.
struct Error {
  std::string message;
  std::string hint = {};  ///< one line on what to do next; may be empty

  /// Prefix context on the way up: "while compiling rmsnorm: <message>".
  [[nodiscard]] Error context(const std::string& what) const { return {what + ": " + message, hint}; }
};

template <typename T>
using Expected = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message, std::string hint = {}) {
  return std::unexpected(Error{std::move(message), std::move(hint)});
}

/// Thrown only where no caller can do better than stop; main() prints it as `autokernel: error: ...`.
class Fatal : public std::runtime_error {
 public:
  explicit Fatal(Error e) : std::runtime_error(e.message), m_hint(std::move(e.hint)) {}
  [[nodiscard]] const std::string& hint() const { return m_hint; }

 private:
  std::string m_hint;
};

/// Unwrap an Expected or throw Fatal with context.
template <typename T>
T value_or_throw(Expected<T>&& v, const std::string& context = {}) {
  if (!v) {
    throw Fatal(context.empty() ? v.error() : v.error().context(context));
  }
  return std::move(*v);
}

inline void value_or_throw(Expected<void>&& v, const std::string& context = {}) {
  if (!v) {
    throw Fatal(context.empty() ? v.error() : v.error().context(context));
  }
}

}  // namespace ak

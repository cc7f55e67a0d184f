#include "util/python.hpp"

#include <cstdlib>

#include "util/resources.hpp"

namespace ak::util {

std::string python_executable() {
  if (const char* p = std::getenv("AUTOKERNEL_PYTHON"); p && *p) return p;
  return built_python().string();
}

}  // namespace ak::util

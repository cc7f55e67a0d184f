#include "util/python.hpp"

#include <cstdlib>

namespace ak::util {

std::string python_executable() {
  if (const char* p = std::getenv("AUTOKERNEL_PYTHON"); p && *p) return p;
  return AK_PYTHON_EXECUTABLE;
}

}  // namespace ak::util

// Which Python runs autokernel's support scripts (profiling, verify, the suite's baselines, plots).
#pragma once

#include <string>

namespace ak::util {

/// $AUTOKERNEL_PYTHON, else the Python autokernel was built against (the one whose torch it links).
/// The one rule for every child Python: a plot drawn by one Python and a model run by another would
/// need matplotlib and torch in both.
std::string python_executable();

}  // namespace ak::util

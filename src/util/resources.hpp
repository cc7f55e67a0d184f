// Where autokernel's own files are (the starters, the kernel ABI header, the Python support scripts, the
// agents' program.md, the operator library exported packages load). Two layouts:
//   - a build in place: the source tree the binary was built from (its path compiled in);
//   - installed (`pip install .`): one root beside the binary, <root>/bin/autokernel with <root>/kernels,
//     <root>/python, <root>/program.md and <root>/lib/libautokernel_ops.so.
// The installed layout wins when the binary sits in one, so a wheel works wherever pip puts it.
#pragma once

#include <filesystem>

namespace ak::util {

std::filesystem::path kernels_dir();         ///< <type>/{cuda.cu,triton.py,cpu.cpp}, and include/
std::filesystem::path kernel_include_dir();  ///< autokernel/kernel_abi.h; $AUTOKERNEL_INCLUDE overrides
std::filesystem::path python_support_dir();  ///< autokernel_support/, autokernel_kernels/
std::filesystem::path program_md();
std::filesystem::path ops_library();  ///< libautokernel_ops.so; $AUTOKERNEL_OPS_LIBRARY overrides
/// The site-packages of the Python autokernel was built against (torch, Triton), for the embedded interpreter.
std::filesystem::path python_site_packages();
/// The Python autokernel was built against.
std::filesystem::path built_python();

}  // namespace ak::util

// `autokernel hw`: what this machine's device is, its datasheet numbers, and its measured ceilings.
#include "backends/backend.hpp"
#include "cli/commands.hpp"
#include "harness/ceiling.hpp"
#include "hw/device.hpp"

namespace ak::cli {

Runner add_hw_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("hw", "show the device, its spec and its measured ceilings");
  auto measure = std::make_shared<bool>(false);
  cmd->add_flag("--measure", *measure, "measure (or read the cached) copy bandwidth and matmul ceilings");
  return [measure] {
    const at::Device device = backends::cuda_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    const auto info = hw::detect(device);
    if (!info.is_gpu) {
      fmt::print("device: none (no CUDA GPU visible); the cpu backend and Triton's interpreter still work\n");
    } else {
      fmt::print("device: {} (compute capability {}.{}, {} SMs, {:.0f} GB)\n", info.name, info.props.cc_major,
                 info.props.cc_minor, info.props.sm_count, info.props.total_memory_gb);
      const auto& s = *info.spec;
      fmt::print(
          "spec: {}{}\n  bandwidth {:.0f} GB/s, L2 {:.0f} MB\n  dense TFLOP/s: fp16 {:.1f}, bf16 {:.1f}, tf32 {:.1f}, "
          "fp8 {:.1f}, fp32 {:.1f}\n",
          s.name, s.estimated ? " (estimated: not in the table)" : "", s.bandwidth_gb_s, s.l2_mb, s.tflops_fp16,
          s.tflops_bf16, s.tflops_tf32, s.tflops_fp8, s.tflops_fp32);
    }
    if (*measure) {
      const auto c = harness::measured_ceiling(device, info);
      fmt::print("measured: copy {:.0f} GB/s (read + write), matmul {:.3g} TFLOP/s ({})\n", c.copy_gb_s,
                 c.matmul_tflops, c.matmul_what);
    }
    return k_exit_ok;
  };
}

}  // namespace ak::cli

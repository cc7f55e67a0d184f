// `autokernel verify`: the kept kernels, exported as the package users import (deploy/export.hpp), swapped
// into the model; its outputs checked against the original and both timed, also against torch.compile.
// The model runs in a child Python process (python/autokernel_support/verify_model.py); this side
// exports, runs it, and reads back its verify.json.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "util/error.hpp"

namespace ak::deploy {

struct VerifyRequest {
  std::filesystem::path workspace = "workspace";
  std::string model;        ///< FILE.py:Class or hf:NAME; empty: the one profile.json names
  std::string input_shape;  ///< as for `autokernel profile`
  std::string inputs;
  std::string init_args;
  std::string dtype;   ///< fp16 | bf16 | fp32; empty: profile.json's, else fp32
  std::string device;  ///< cuda | cpu; empty: profile.json's, else cuda with a GPU
  int runs = 20;
  bool compile = true;    ///< also time torch.compile of the original
  bool diagnose = false;  ///< swap one kernel type at a time
  /// auto: time each kernel type alone inside torch.compile and keep only those that make it faster;
  /// all: every type. Empty: auto on cuda, all on cpu.
  std::string inside_compile;
  bool all = false;  ///< export kernels no faster than PyTorch too
  /// The generation check: this many greedy tokens after a prefill, eager and patched (0: none). A decode
  /// profile's default: its steps, at least 32.
  int generate = 0;
};

/// Run it; `print` gets the progress lines. The result is verify.json (also written to the workspace).
Expected<nlohmann::json> verify(const VerifyRequest& request, const std::function<void(const std::string&)>& print);

}  // namespace ak::deploy

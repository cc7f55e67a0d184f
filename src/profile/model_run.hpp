// Runs a model under torch.profiler in a child Python process (python/autokernel_support/profile_model.py),
// which writes a Chrome trace and a meta JSON. Only this runs in Python; the analysis is ours.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "util/error.hpp"

namespace ak::profile {

struct ModelRunRequest {
  std::string model;        ///< FILE.py:Class, or hf:NAME (transformers, random weights)
  std::string input_shape;  ///< "1,2048": token ids (models with an embedding) or a random tensor
  std::string inputs;  ///< FILE.py:make_inputs, called with the arguments it names of (model, device, dtype, shape)
  std::string dtype = "fp32";  ///< fp16 | bf16 | fp32
  std::string init_args;       ///< a JSON object of constructor keyword arguments
  std::string device = "cpu";
  int warmup = 2;   ///< steps run before profiling (and one more, discarded, inside it)
  int iters = 3;    ///< profiled steps
  int decode = 0;   ///< > 0: profile this many decode steps (one new token per sequence) against a KV cache
  int prefill = 0;  ///< the tokens in the cache before the first decode step (0: input_shape's second dim)
  std::filesystem::path out_dir;  ///< where trace.json and meta.json go
};

struct ModelRun {
  std::filesystem::path trace;
  nlohmann::json meta;
};

/// Run it. A model that cannot be found, built or run is an Error with the runner's one-line reason.
Expected<ModelRun> run_model(const ModelRunRequest& request);

}  // namespace ak::profile

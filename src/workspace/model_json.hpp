// model.json: what `autokernel extract` knows of a kernel's model, written beside the workspace kernel
// (profile/extract fills it; the harness checks its shapes against the type and times them first; the loop
// ranks kernels by its share and times them in its dtype). Read here, once, without ATen.
#pragma once

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/shape.hpp"
#include "util/error.hpp"

namespace ak::workspace {

inline constexpr std::string_view k_model_json_file = "model.json";

/// One of the model's shapes of the kernel: its dims in the type's, and where it came from in the profile.
struct ModelShape : catalog::Shape {
  std::string dtype;                 ///< "bf16"
  double share = 0;                  ///< of the model's time, 0..1
  double calls = 0;                  ///< per step
  std::vector<std::string> modules;  ///< where in the model (the first few module paths)
};

struct ModelJson {
  std::string type;                   ///< the kernel type they are shapes of
  std::string dims_doc;               ///< what its dims mean ("M,N,K"), for a reader of the file
  std::vector<ModelShape> shapes;     ///< heaviest first
  std::size_t shapes_in_profile = 0;  ///< how many the profile had (the file keeps the heaviest few)
  std::string dtype;                  ///< the model's dtype at its heaviest shape ("bf16")
  double share = 0;                   ///< of the model's time, 0..1 (0: not known)
  double share_uncompiled = 0;        ///< a fusion's unfused form: its share when nothing fuses (0: as share)
  double time_us = 0;                 ///< per step
  std::string basis, model, device;   ///< the profile's: "gpu" or "cpu" time, the model spec, the device

  nlohmann::json to_json() const;
};

/// Write `m` as model.json in the workspace kernel's folder `kernel_dir` (atomically).
Expected<void> write_model_json(const std::filesystem::path& kernel_dir, const ModelJson& m);

/// model.json in the folder of `candidate` (a file, or a folder holding one); nullopt if there is none. A
/// file that does not parse is an error naming it; whether its shapes fit the type is the harness's check
/// (harness/model_shapes).
Expected<std::optional<ModelJson>> read_model_json(const std::filesystem::path& candidate);

/// The dtype a kernel is timed in when the run names none: its model's dtype (model.json beside the
/// kernel, where the model's shapes are timed first, in it), else f16.
std::string timing_dtype_of(const std::filesystem::path& kernel_file);

}  // namespace ak::workspace

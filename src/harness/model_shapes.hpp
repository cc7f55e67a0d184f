// The model's own shapes of a kernel, from the model.json that `autokernel extract` writes beside a
// workspace kernel. The harness checks them first (stage 2) and times them first, so the loop's one
// timed shape is the model's heaviest, and `autokernel bench` on a workspace kernel sees them too.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "catalog/shape.hpp"
#include "util/error.hpp"

namespace ak::harness {

inline constexpr std::string_view k_model_shapes_file = "model.json";

struct ModelShapes {
  std::string type;                    ///< the kernel type they are shapes of
  std::vector<catalog::Shape> shapes;  ///< heaviest first
  std::string dtype;                   ///< the model's dtype at its heaviest shape ("bf16")
  double share = 0;                    ///< of the model's time, 0..1 (0: not known)
  double share_uncompiled = 0;         ///< a fusion's unfused form: its share when nothing fuses (0: as share)
};

/// model.json in the folder of `candidate` (a file, or a folder holding one); nullopt if there is none.
/// A malformed one, or one whose shapes do not fit its type, is an error naming the file.
Expected<std::optional<ModelShapes>> read_model_shapes(const std::filesystem::path& candidate);

}  // namespace ak::harness

// The model's own shapes of a kernel, from the model.json that `autokernel extract` writes beside a
// workspace kernel (workspace/model_json reads it), checked against the kernel type here. The harness checks them first
// (stage 2) and times them first, so the loop's one timed shape is the model's heaviest, and `autokernel bench` on a
// workspace kernel sees them too.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "util/error.hpp"
#include "workspace/model_json.hpp"

namespace ak::harness {

/// Whether `m`'s shapes fit its kernel type's dims; an error naming `file` (where they are, or are about to be
/// written) when one does not.
Expected<void> check_model_shapes(const workspace::ModelJson& m, const std::filesystem::path& file);

/// model.json in the folder of `candidate` (a file, or a folder holding one); nullopt if there is none.
/// A malformed one, or one whose shapes do not fit its type, is an error naming the file.
Expected<std::optional<workspace::ModelJson>> read_model_shapes(const std::filesystem::path& candidate);

}  // namespace ak::harness

// make_placement: checks the config and dispatches on the backend.
#include "memory/placement.h"

#include <string>

#include "base/error.h"
#include "memory/placement_cpu.h"
#include "memory/placement_cuda.h"

namespace ferry {

std::unique_ptr<Placement> make_placement(Backend& backend, const PlacementConfig& cfg) {
  FERRY_CHECK(cfg.policy != Policy::Auto, "make_placement: policy must be resolved by the planner");
  FERRY_CHECK(cfg.keep.size() == cfg.pack_bytes.size(),
              "make_placement: " + std::to_string(cfg.keep.size()) + " keep flags for " +
                  std::to_string(cfg.pack_bytes.size()) + " packs");
  FERRY_CHECK(cfg.slots >= 0, "make_placement: negative slot count");
  if (backend.kind() == DeviceKind::CPU) return make_cpu_placement(backend, cfg);
#ifdef FERRY_HAVE_CUDA
  return make_cuda_placement(backend, cfg);
#else
  throw InternalError("make_placement: a CUDA backend, but ferry was built without CUDA");
#endif
}

}  // namespace ferry

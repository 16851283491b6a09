// make_weight_source (models/weights.h): the source a spec's weights come from, by spec.weights.
#include "models/gguf.h"
#include "models/weights.h"

namespace ferry {

std::unique_ptr<WeightSource> make_weight_source(const ModelSpec& spec) {
  if (spec.weights.random) return random_source(spec);
  if (is_gguf_path(spec.weights.path)) return open_gguf_weights(spec.weights.path);
  return open_checkpoint(spec.weights.path);
}

}  // namespace ferry

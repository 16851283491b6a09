// Scalar references for linear, activation and logits (tests only): triple loops, double sums.
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "ops/reference.h"
#include "ops/validate.h"

namespace ferry::ops::ref {
namespace {

double act_ref(double x, Activation act) {
  switch (act) {
    case Activation::None:
      return x;
    case Activation::GeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    case Activation::GeluErf:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case Activation::Tanh:
      return std::tanh(x);
  }
  throw InternalError("ref::activation: unknown activation " + std::to_string(static_cast<int>(act)));
}

}  // namespace

void linear(TensorView x, TensorView w, WeightLayout layout, TensorView bias, Activation act, TensorView out) {
  check::linear(DeviceKind::CPU, x, w, layout, bias, out);
  const std::int64_t rows = x.dim(0);
  const std::int64_t k_dim = x.dim(1);
  const std::int64_t n_dim = out.dim(1);
  for (std::int64_t t = 0; t < rows; ++t) {
    for (std::int64_t n = 0; n < n_dim; ++n) {
      double acc = bias.present() ? static_cast<double>(bias.as<float>()[n]) : 0.0;
      for (std::int64_t k = 0; k < k_dim; ++k) {
        const float wv = layout == WeightLayout::KN ? w.as<float>()[k * n_dim + n] : w.as<float>()[n * k_dim + k];
        acc += static_cast<double>(x.as<float>()[t * k_dim + k]) * static_cast<double>(wv);
      }
      out.as<float>()[t * n_dim + n] = static_cast<float>(act_ref(acc, act));
    }
  }
}

void activation(TensorView x, Activation act) {
  check::activation(DeviceKind::CPU, x);
  for (std::int64_t i = 0; i < x.numel(); ++i)
    x.as<float>()[i] = static_cast<float>(act_ref(x.as<float>()[i], act));
}

void logits(TensorView x, TensorView wte, TensorView out) {
  check::logits(DeviceKind::CPU, x, wte, out);
  const std::int64_t hidden = x.dim(1);
  const std::int64_t vocab = wte.dim(0);
  for (std::int64_t t = 0; t < x.dim(0); ++t) {
    for (std::int64_t v = 0; v < vocab; ++v) {
      double acc = 0.0;
      for (std::int64_t i = 0; i < hidden; ++i)
        acc += static_cast<double>(x.as<float>()[t * hidden + i]) * static_cast<double>(wte.as<float>()[v * hidden + i]);
      out.as<float>()[t * vocab + v] = static_cast<float>(acc);
    }
  }
}

}  // namespace ferry::ops::ref

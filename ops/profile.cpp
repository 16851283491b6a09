#include "ops/profile.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

namespace ferry::ops {
namespace {

std::atomic<bool> g_on{false};
std::mutex g_mu;
std::map<std::string, OpTime>& table() {
  static std::map<std::string, OpTime> t;
  return t;
}

}  // namespace

void set_cpu_op_profiling(bool on) { g_on.store(on, std::memory_order_relaxed); }
bool cpu_op_profiling() { return g_on.load(std::memory_order_relaxed); }

void reset_cpu_op_profile() {
  std::lock_guard<std::mutex> lk(g_mu);
  table().clear();
}

std::vector<OpTime> cpu_op_profile() {
  std::vector<OpTime> v;
  {
    std::lock_guard<std::mutex> lk(g_mu);
    for (const auto& [name, t] : table()) v.push_back(t);
  }
  std::sort(v.begin(), v.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  return v;
}

void record_cpu_op(const char* op, double seconds) {
  std::lock_guard<std::mutex> lk(g_mu);
  OpTime& t = table()[op];
  t.op = op;
  t.seconds += seconds;
  ++t.calls;
}

}  // namespace ferry::ops

#include <gtest/gtest.h>

#include "base/error.h"
#include "memory/residency.h"

namespace ferry {
namespace {

TEST(Residency, TracksPeakAndCounters) {
  Residency r(100, {40, 30, 30, 50});
  r.on_fetch(0, 40);
  r.on_fetch(1, 0);
  EXPECT_EQ(r.resident_bytes(), 70u);
  r.on_fetch(2, 30);
  EXPECT_EQ(r.peak_bytes(), 100u);
  r.on_evict(1, 0);
  r.on_evict(2, 5);
  EXPECT_EQ(r.resident_bytes(), 40u);
  r.on_fetch(3, 50);
  EXPECT_EQ(r.resident_bytes(), 90u);
  EXPECT_EQ(r.peak_bytes(), 100u);
  EXPECT_TRUE(r.resident(3));
  EXPECT_FALSE(r.resident(1));
  EXPECT_EQ(r.bytes_h2d(), 120u);
  EXPECT_EQ(r.bytes_d2h(), 5u);
  EXPECT_EQ(r.fetches(), 4u);
  EXPECT_EQ(r.evictions(), 2u);
  r.reset_counters();
  EXPECT_EQ(r.bytes_h2d(), 0u);
  EXPECT_EQ(r.fetches(), 0u);
  EXPECT_EQ(r.resident_bytes(), 90u);
  EXPECT_EQ(r.peak_bytes(), 100u);
}

TEST(Residency, BudgetOverflowThrows) {
  Residency r(100, {60, 50});
  r.on_fetch(0, 60);
  EXPECT_THROW(r.on_fetch(1, 50), InternalError);
  EXPECT_FALSE(r.resident(1));
  EXPECT_EQ(r.peak_bytes(), 60u);
}

TEST(Residency, DoubleFetchAndStrayEvictThrow) {
  Residency r(1000, {10, 20});
  r.on_fetch(0, 10);
  EXPECT_THROW(r.on_fetch(0, 10), InternalError);
  EXPECT_THROW(r.on_evict(1, 0), InternalError);
  EXPECT_THROW(r.on_fetch(2, 0), InternalError);
}

}  // namespace
}  // namespace ferry

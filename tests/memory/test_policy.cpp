#include <gtest/gtest.h>

#include "base/error.h"
#include "memory/policy.h"

namespace ferry {
namespace {

TEST(Policy, NamesRoundTrip) {
  for (Policy p : {Policy::Resident, Policy::UM, Policy::UMPrefetch, Policy::Stream, Policy::Auto})
    EXPECT_EQ(parse_policy(policy_name(p), "--policy"), p);
  EXPECT_STREQ(policy_name(Policy::UMPrefetch), "um-prefetch");
}

TEST(Policy, UnknownNameListsValidOnes) {
  try {
    parse_policy("prefetch", "--policy");
    FAIL();
  } catch (const BadInput& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--policy"), std::string::npos) << m;
    EXPECT_NE(m.find("prefetch"), std::string::npos) << m;
    EXPECT_NE(m.find("um-prefetch"), std::string::npos) << m;
    EXPECT_NE(m.find("resident"), std::string::npos) << m;
  }
  EXPECT_THROW(parse_policy("", "--policy"), BadInput);
  EXPECT_THROW(parse_policy("UM", "--policy"), BadInput);
}

}  // namespace
}  // namespace ferry

// The device idle before every timed call: long enough to hide the launch, never below the common floor.
#include <gtest/gtest.h>

#include "harness/timing.hpp"

namespace ak::harness {
namespace {

TEST(IdleSleep, AFastLauncherStillWaitsTheCommonFloor) {
  // A C++ launch of 5 us and one of 50 us both get the floor: the same settled L2 as everyone else.
  EXPECT_EQ(idle_sleep_cycles(0.005, 1000.0), static_cast<int64_t>(k_min_idle_us * 1000));
  EXPECT_EQ(idle_sleep_cycles(0.050, 1000.0), static_cast<int64_t>(k_min_idle_us * 1000));
  EXPECT_EQ(idle_sleep_cycles(0.0, 1980.0), static_cast<int64_t>(k_min_idle_us * 1980));
}

TEST(IdleSleep, ASlowLauncherIsCoveredTwiceOverUpToTwentyMilliseconds) {
  EXPECT_EQ(idle_sleep_cycles(0.150, 1000.0), 300 * 1000);   // a compiled graph's 150 us launch: 300 us
  EXPECT_EQ(idle_sleep_cycles(50.0, 1000.0), 20000 * 1000);  // capped
}

}  // namespace
}  // namespace ak::harness

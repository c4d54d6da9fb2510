#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mxopt/lr_scheduler.h"

using namespace mxopt;

TEST(FactorScheduler, DecaysAfterEachStepStrictly) {
  FactorScheduler s(2, 0.5, 1e-8, 1.0);
  const std::vector<int> ns = {0, 1, 2, 3, 4, 5, 6, 7, 3, 0, 9};
  const std::vector<double> want = {1, 1, 1, .5, .5, .25, .25, .125, .125, .125, .0625};
  for (size_t i = 0; i < ns.size(); ++i) EXPECT_EQ(s(ns[i]), want[i]) << "n=" << ns[i];
}

TEST(FactorScheduler, RepeatedMultiplicationNotPow) {
  FactorScheduler s(100, 0.9, 1e-8, 0.1);
  EXPECT_EQ(s(100), 0.1);
  EXPECT_EQ(s(101), 0.1 * 0.9);
  EXPECT_EQ(s(201), 0.1 * 0.9 * 0.9);
}

TEST(FactorScheduler, WarmupDoesNotOffsetCount) {
  FactorScheduler s(2, 0.5, 1e-8, 0.5, 5, 0.5 - 0.5, "linear");
  EXPECT_EQ(s(0), 0.0);
  EXPECT_EQ(s(1), 0.1);
  EXPECT_EQ(s(5), 0.125);  // two decays at once: n=5 > 2 and > 4
}

TEST(FactorScheduler, StopFactorFloorAndLogs) {
  FactorScheduler s(1, 0.1, 1e-3, 1.0);
  std::vector<std::string> logs;
  s.set_logger([&](const std::string& m) { logs.push_back(m); });
  EXPECT_EQ(s(5), 1e-3);
  ASSERT_EQ(logs.size(), 4u);
  EXPECT_EQ(logs[0], "Update[5]: Change learning rate to 1.00000e-01");
  EXPECT_EQ(logs[3], "Update[5]: now learning rate arrived at 1.00000e-03, will not change in the future");
}

TEST(FactorScheduler, ValidatesArguments) {
  EXPECT_THROW(FactorScheduler(0.5), std::invalid_argument);
  EXPECT_THROW(FactorScheduler(1, 1.5), std::invalid_argument);
  EXPECT_THROW(FactorScheduler(1, 0.5, 1e-8, 0.01, -1), std::invalid_argument);
  EXPECT_THROW(FactorScheduler(1, 0.5, 1e-8, 0.01, 0, 0.1), std::invalid_argument);
  EXPECT_THROW(FactorScheduler(1, 0.5, 1e-8, 0.01, 0, 0, "cubic"), std::invalid_argument);
}

TEST(MultiFactorScheduler, MilestonesStrictlyBelow) {
  MultiFactorScheduler s({5, 10}, 0.5, 1.0);
  EXPECT_EQ(s(5), 1.0);
  EXPECT_EQ(s(6), 0.5);
  EXPECT_EQ(s(10), 0.5);
  EXPECT_EQ(s(11), 0.25);
  EXPECT_EQ(s(3), 0.25);  // never undone
  EXPECT_EQ(s.cur_step_ind, 2u);
  EXPECT_EQ(s.count, 10.0);
}

TEST(MultiFactorScheduler, ValidatesSteps) {
  EXPECT_THROW(MultiFactorScheduler({}), AssertionError);
  EXPECT_THROW(MultiFactorScheduler({5, 5}), std::invalid_argument);
  EXPECT_THROW(MultiFactorScheduler({0, 5}), std::invalid_argument);
  EXPECT_THROW(MultiFactorScheduler({1, 5}, 2.0), std::invalid_argument);
}

TEST(PolyScheduler, LinearDecayAndStaleValuePastMaxUpdate) {
  PolyScheduler s(100, 1.0, 1.0);
  EXPECT_EQ(s(10), 0.9);
  EXPECT_EQ(s(200), 0.9);  // stale: nothing recomputed past max_update
  EXPECT_EQ(s(100), 0.0);
  EXPECT_EQ(s(300), 0.0);
}

TEST(PolyScheduler, QuadraticWithWarmup) {
  PolyScheduler s(110, 0.5, 2.0, 0.01, 10, 0.1);
  EXPECT_EQ(s(5), 0.1 + ((0.5 - 0.1) * 5.0) / 10.0);
  const double want = 0.01 + (0.5 - 0.01) * std::pow(1.0 - 50.0 / 100.0, 2.0);
  EXPECT_EQ(s(60), want);
  EXPECT_EQ(s(110), 0.01);
}

TEST(PolyScheduler, ZeroLengthDecayDividesByZero) {
  PolyScheduler s(5, 0.01, 2.0, 0.0, 5);
  EXPECT_THROW(s(5), ZeroDivisionError);
  EXPECT_THROW(PolyScheduler(0), std::invalid_argument);
}

TEST(CosineScheduler, HalfCosine) {
  CosineScheduler s(100, 1.0, 0.0);
  EXPECT_EQ(s(0), 1.0);
  EXPECT_EQ(s(50), ((1.0 - 0.0) * (1.0 + std::cos(3.141592653589793 * 50.0 / 100.0))) / 2.0);
  EXPECT_EQ(s(100), 0.0);
  EXPECT_EQ(s(150), 0.0);
}

TEST(LRScheduler, ConstantWarmupAndAssertions) {
  CosineScheduler s(100, 1.0, 0.0, 10, 0.2, "constant");
  EXPECT_EQ(s(3), 0.2);
  EXPECT_EQ(s.get_warmup_lr(9), 0.2);
  EXPECT_THROW(s.get_warmup_lr(10), AssertionError);
  s.warmup_mode = "bogus";
  EXPECT_THROW(s(3), std::invalid_argument);
  LRScheduler base;
  EXPECT_THROW(base(1), std::logic_error);
}

// The sampler: greedy is argmax, sampling is seeded and respects top-p.
#include "resa/runtime/Sampler.h"

#include "resa/kernels/Tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

namespace {
std::vector<float> randomLogits(int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}
} // namespace

TEST(Sampler, GreedyIsArgmax) {
  resa::Sampler s({0.0f, 1.0f, 0});
  for (unsigned seed = 0; seed < 20; ++seed) {
    auto v = randomLogits(97, seed);
    int64_t best = 0;
    for (int i = 1; i < 97; ++i)
      if (v[i] > v[best])
        best = i;
    EXPECT_EQ(s.next(v.data(), 97), best);
  }
}

TEST(Sampler, SeededSamplingIsDeterministic) {
  auto v = randomLogits(50, 7);
  for (float &x : v)
    x *= 0.2f; // a flat distribution, so different seeds give different draws
  resa::Sampler a({0.8f, 0.9f, 42}), b({0.8f, 0.9f, 42}), c({0.8f, 0.9f, 43});
  std::vector<int64_t> xa, xb, xc;
  for (int i = 0; i < 64; ++i) {
    xa.push_back(a.next(v.data(), 50));
    xb.push_back(b.next(v.data(), 50));
    xc.push_back(c.next(v.data(), 50));
  }
  EXPECT_EQ(xa, xb);
  EXPECT_NE(xa, xc);
}

TEST(Sampler, TopPKeepsOnlyTheNucleus) {
  // One token holds ~88% of the mass: top-p 0.5 must always pick it.
  std::vector<float> v = {0.0f, 4.0f, 0.5f, 1.0f, -1.0f};
  resa::Sampler s({1.0f, 0.5f, 3});
  for (int i = 0; i < 200; ++i)
    EXPECT_EQ(s.next(v.data(), 5), 1);
  resa::Sampler wide({1.0f, 1.0f, 3});
  std::set<int64_t> seen;
  for (int i = 0; i < 400; ++i)
    seen.insert(wide.next(v.data(), 5));
  EXPECT_GT(seen.size(), 2u);
}

TEST(Sampler, RejectsBadOptionsAndNaN) {
  EXPECT_THROW(resa::Sampler({-1.0f, 1.0f, 0}), resa::Error);
  EXPECT_THROW(resa::Sampler({1.0f, 0.0f, 0}), resa::Error);
  std::vector<float> v = {1.0f, NAN};
  resa::Sampler s({0.0f, 1.0f, 0});
  EXPECT_THROW(s.next(v.data(), 2), resa::Error);
}

// Packages of random weights (resa-compile --weights=random): a weights file
// that is its header alone, the seed in the plan (under the checksum), and
// Package::weight making the generator's values once.
#include "TempPackage.h"

#include "resa/kernels/RandomWeights.h"
#include "resa/runtime/Package.h"
#include "resa/runtime/PlanChecksum.h"
#include "resa/runtime/Safetensors.h"

#include "plan.pb.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

class RandomPackage : public resa::test::TempDirTest {
protected:
  RandomPackage() : TempDirTest("random-package") {}

  const std::vector<resa::SafetensorsEntry> weights = {
      {"w", resa::DType::BF16, {64, 32}}, {"norm", resa::DType::F32, {32}}};

  // A package of `weights`; `random` marks them random (seed 11) and writes
  // the header alone, `data` writes their bytes (zeros) after it; `edit`
  // changes the plan last.
  void write(bool random, bool data, uint64_t seed = 11,
             const std::function<void(resa::plan::Plan &)> &edit = {}) {
    const std::string file = (dir / "weights.safetensors").string();
    std::function<void(size_t, std::FILE *)> writeData;
    if (data)
      writeData = [&](size_t i, std::FILE *f) {
        std::vector<char> zeros(resa::numElements(weights[i].shape) *
                                resa::dtypeSize(weights[i].dtype));
        std::fwrite(zeros.data(), 1, zeros.size(), f);
      };
    uint64_t size = resa::writeSafetensors(file, weights, writeData);
    resa::plan::Plan p;
    p.set_format_version(resa::kPlanFormatVersion);
    p.set_producer("RandomWeightsPackageTest");
    p.set_weights_file("weights.safetensors");
    p.set_weights_bytes(size);
    if (random)
      p.mutable_random_weights()->set_seed(seed);
    for (const resa::SafetensorsEntry &w : weights) {
      resa::plan::Value *v = p.add_values();
      v->set_name(w.name);
      v->set_dtype(static_cast<int>(resa::DType::F32));
      v->set_weight(w.name);
    }
    if (edit)
      edit(p);
    std::string header(resa::SafetensorsFile(file, data ? resa::SafetensorsData::Present
                                                        : resa::SafetensorsData::Absent)
                           .header());
    std::string bytes = resa::sealPlan(p.SerializeAsString(), header);
    std::ofstream(dir / "plan.pb", std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  std::string loadError() {
    try {
      resa::Package::load(dir.string());
      return "";
    } catch (const resa::Error &e) {
      return e.what();
    }
  }
};

} // namespace

TEST_F(RandomPackage, LoadsAndMakesTheGeneratorsValues) {
  write(true, false);
  auto pkg = resa::Package::load(dir.string());
  EXPECT_TRUE(pkg->randomWeights());
  EXPECT_EQ(pkg->randomSeed(), 11u);
  EXPECT_EQ(pkg->weightEntry("w").dtype, resa::DType::BF16);
  EXPECT_EQ(pkg->weightEntry("w").shape, (resa::Shape{64, 32}));
  for (const resa::SafetensorsEntry &e : weights) {
    resa::Tensor got = pkg->weight(e.name);
    resa::Tensor want = resa::randomWeight(11, e.name, e.dtype, e.shape);
    ASSERT_EQ(got.dtype(), e.dtype);
    ASSERT_EQ(got.shape(), e.shape);
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.nbytes()), 0) << e.name;
    EXPECT_EQ(pkg->weight(e.name).raw(), got.raw()) << "made once, then kept";
  }
  EXPECT_THROW(pkg->weight("absent"), resa::Error);
}

TEST_F(RandomPackage, ThreadsShareOneCopy) {
  write(true, false);
  auto pkg = resa::Package::load(dir.string());
  std::vector<const void *> seen(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&, i] { seen[i] = pkg->weight("w").raw(); });
  for (std::thread &t : threads)
    t.join();
  for (const void *p : seen)
    EXPECT_EQ(p, seen[0]);
}

TEST_F(RandomPackage, WeightsFileWithDataIsRefused) {
  write(true, true);
  std::string e = loadError();
  EXPECT_NE(e.find("without data must end with its header"), std::string::npos) << e;
}

TEST_F(RandomPackage, PackageWithoutDataIsTruncatedUnlessRandom) {
  write(false, false);
  std::string e = loadError();
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  write(false, true);
  auto pkg = resa::Package::load(dir.string());
  EXPECT_FALSE(pkg->randomWeights());
  EXPECT_EQ(pkg->weight("norm").data<float>()[0], 0.0f);
}

TEST_F(RandomPackage, TheSeedIsUnderTheChecksum) {
  write(true, false, 11);
  std::string sealed;
  {
    std::ifstream in(dir / "plan.pb", std::ios::binary);
    sealed.assign(std::istreambuf_iterator<char>(in), {});
  }
  write(true, false, 12); // the same plan but for its seed: swap the checksums
  std::string other;
  {
    std::ifstream in(dir / "plan.pb", std::ios::binary);
    other.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_EQ(sealed.size(), other.size());
  std::string forged = other.substr(0, other.size() - 9) + sealed.substr(sealed.size() - 9);
  std::ofstream(dir / "plan.pb", std::ios::binary)
      .write(forged.data(), static_cast<std::streamsize>(forged.size()));
  std::string e = loadError();
  EXPECT_NE(e.find("checksum mismatch"), std::string::npos) << e;
}

namespace {

// Records in the plan that random weight `weight` is `parts` (name, columns)
// side by side.
void addColumnsOf(resa::plan::Plan &p, const std::string &weight,
                  const std::vector<std::pair<std::string, int64_t>> &parts) {
  resa::plan::ColumnsOf *c = p.mutable_random_weights()->add_columns_of();
  c->set_weight(weight);
  for (const auto &[name, columns] : parts) {
    c->add_parts(name);
    c->add_columns(columns);
  }
}

} // namespace

// A weight made of other weights' columns (resa-fuse-gate-up's gate and up):
// each part from its own name, row by row side by side.
TEST_F(RandomPackage, ColumnsOfPartsSideBySide) {
  write(true, false, 11,
        [](resa::plan::Plan &p) { addColumnsOf(p, "w", {{"gate", 20}, {"up", 12}}); });
  auto pkg = resa::Package::load(dir.string());
  ASSERT_NE(pkg->randomColumnsOf("w"), nullptr);
  EXPECT_EQ(pkg->randomColumnsOf("norm"), nullptr);
  const resa::Tensor w = pkg->weight("w");
  const resa::Tensor gate = resa::randomWeight(11, "gate", resa::DType::BF16, {64, 20});
  const resa::Tensor up = resa::randomWeight(11, "up", resa::DType::BF16, {64, 12});
  const auto *got = static_cast<const uint16_t *>(w.raw());
  const auto *g = static_cast<const uint16_t *>(gate.raw());
  const auto *u = static_cast<const uint16_t *>(up.raw());
  for (int64_t r = 0; r < 64; ++r) {
    EXPECT_EQ(std::memcmp(got + r * 32, g + r * 20, 20 * 2), 0) << "row " << r;
    EXPECT_EQ(std::memcmp(got + r * 32 + 20, u + r * 12, 12 * 2), 0) << "row " << r;
  }
}

TEST_F(RandomPackage, ColumnsOfMustAddUp) {
  write(true, false, 11,
        [](resa::plan::Plan &p) { addColumnsOf(p, "w", {{"gate", 20}, {"up", 20}}); });
  auto pkg = resa::Package::load(dir.string());
  EXPECT_THROW(pkg->weight("w"), resa::Error);
}

// Pieces shared by the runtime unit tests that write packages to disk: a
// fresh folder per test, and the one-weight package they build on.
#pragma once

#include "resa/runtime/Package.h"
#include "resa/runtime/PlanChecksum.h"
#include "resa/runtime/Safetensors.h"

#include "plan.pb.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <unistd.h>

namespace resa::test {

// A fixture owning `dir`, emptied before and removed after each test. The
// process id keeps runs of the test binary (ctest starts one per test) from
// sharing a folder; `name` keeps the fixtures of one binary apart.
class TempDirTest : public ::testing::Test {
protected:
  explicit TempDirTest(const std::string &name)
      : dir(std::filesystem::temp_directory_path() /
            ("resa-unit-" + std::to_string(::getpid()) + "-" + name)) {}

  void SetUp() override {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::filesystem::path dir;
};

// Writes dir/weights.safetensors holding one F32 weight "w" of `shape` and
// `data`, and returns a plan naming that file with a value "w" bound to the
// weight; the caller adds the rest, then seals it (sealPlanTo).
inline resa::plan::Plan oneWeightPlan(const std::filesystem::path &dir,
                                      const std::string &producer, const resa::Shape &shape,
                                      const std::vector<float> &data) {
  uint64_t size = resa::writeSafetensors(
      (dir / "weights.safetensors").string(), {{"w", resa::DType::F32, shape}},
      [&](size_t, std::FILE *f) { std::fwrite(data.data(), sizeof(float), data.size(), f); });
  resa::plan::Plan p;
  p.set_format_version(resa::kPlanFormatVersion);
  p.set_producer(producer);
  p.set_weights_file("weights.safetensors");
  p.set_weights_bytes(size);
  resa::plan::Value *v = p.add_values();
  v->set_name("w");
  v->set_dtype(static_cast<int>(resa::DType::F32));
  v->set_weight("w");
  return p;
}

// Writes dir/plan.pb: `p` sealed against dir/weights.safetensors' header, as
// Package::load expects.
inline void sealPlanTo(const std::filesystem::path &dir, const resa::plan::Plan &p) {
  const std::string bytes = resa::sealPlan(
      p.SerializeAsString(),
      resa::SafetensorsFile((dir / "weights.safetensors").string()).header());
  std::ofstream(dir / "plan.pb", std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace resa::test

// The file formats the runtime reads: .npy and safetensors, including
// truncated and malformed files.
#include "resa/runtime/Npy.h"
#include "resa/runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include <random>

namespace {

std::string tempPath(const std::string &name) {
  return (std::filesystem::temp_directory_path() /
          ("resa-unit-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

resa::Tensor randomFloats(resa::Shape shape, unsigned seed) {
  resa::Tensor t(resa::DType::F32, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist;
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = dist(rng);
  return t;
}

void truncateFile(const std::string &path, size_t keep) {
  std::filesystem::resize_file(path, keep);
}

} // namespace

TEST(Npy, RoundTripFloatAndInt) {
  std::string path = tempPath("a.npy");
  resa::Tensor t = randomFloats({2, 3, 5}, 1);
  resa::writeNpy(path, t);
  resa::Tensor back = resa::readNpy(path);
  ASSERT_EQ(back.shape(), t.shape());
  ASSERT_EQ(back.dtype(), resa::DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i)
    EXPECT_EQ(back.data<float>()[i], t.data<float>()[i]);
  resa::Tensor ids(resa::DType::I64, {7});
  for (int i = 0; i < 7; ++i)
    ids.data<int64_t>()[i] = 1000 + i * 37;
  resa::writeNpy(path, ids);
  resa::Tensor idsBack = resa::readNpy(path);
  ASSERT_EQ(idsBack.shape(), resa::Shape({7}));
  EXPECT_EQ(idsBack.data<int64_t>()[6], 1000 + 6 * 37);
  std::remove(path.c_str());
}

TEST(Npy, TruncatedAndGarbageFilesAreErrors) {
  std::string path = tempPath("b.npy");
  resa::writeNpy(path, randomFloats({4, 4}, 2));
  truncateFile(path, 100);
  EXPECT_THROW(resa::readNpy(path), resa::Error);
  std::ofstream(path) << "definitely not numpy";
  EXPECT_THROW(resa::readNpy(path), resa::Error);
  EXPECT_THROW(resa::readNpy(tempPath("missing.npy")), resa::Error);
  std::remove(path.c_str());
}

TEST(Safetensors, WriteThenMapAligned) {
  std::string path = tempPath("w.safetensors");
  std::vector<resa::Tensor> tensors = {randomFloats({3, 5}, 3), randomFloats({7}, 4),
                                       randomFloats({2, 2, 2}, 5)};
  std::vector<resa::SafetensorsEntry> entries;
  for (size_t i = 0; i < tensors.size(); ++i)
    entries.push_back({"t" + std::to_string(i), resa::DType::F32, tensors[i].shape()});
  uint64_t size = resa::writeSafetensors(path, entries, [&](size_t i, std::FILE *f) {
    std::fwrite(tensors[i].raw(), 1, tensors[i].nbytes(), f);
  });
  EXPECT_EQ(size, std::filesystem::file_size(path));
  resa::SafetensorsFile file(path);
  ASSERT_EQ(file.entries().size(), 3u);
  for (size_t i = 0; i < tensors.size(); ++i) {
    resa::Tensor t = file.tensor("t" + std::to_string(i));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % resa::kWeightAlignment, 0u);
    ASSERT_EQ(t.shape(), tensors[i].shape());
    for (int64_t k = 0; k < t.numel(); ++k)
      EXPECT_EQ(t.data<float>()[k], tensors[i].data<float>()[k]);
  }
  EXPECT_THROW(file.tensor("nope"), resa::Error);
  std::remove(path.c_str());
}

TEST(Safetensors, TruncatedFileIsAnError) {
  std::string path = tempPath("t.safetensors");
  resa::Tensor t = randomFloats({64, 64}, 6);
  resa::writeSafetensors(path, {{"w", resa::DType::F32, t.shape()}},
                         [&](size_t, std::FILE *f) { std::fwrite(t.raw(), 1, t.nbytes(), f); });
  truncateFile(path, std::filesystem::file_size(path) - 1);
  EXPECT_THROW(resa::SafetensorsFile{path}, resa::Error);
  truncateFile(path, 20);
  EXPECT_THROW(resa::SafetensorsFile{path}, resa::Error);
  std::remove(path.c_str());
}

// Package loading against damaged and hostile packages: the plan checksum
// (PlanChecksum.h), the format version, and a weights file named by a path.
#include "TempPackage.h"

#include "resa/runtime/Package.h"
#include "resa/runtime/PlanChecksum.h"
#include "resa/runtime/Safetensors.h"

#include "plan.pb.h"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const fs::path &p, const std::string &bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A one-weight package in a fresh folder; `edit` changes the plan before it
// is sealed.
class PackageFixture : public resa::test::TempDirTest {
protected:
  PackageFixture() : TempDirTest("package") {}

  // `seal` false writes the plan without its checksum.
  void write(const std::function<void(resa::plan::Plan &)> &edit = nullptr, bool seal = true) {
    resa::plan::Plan p =
        resa::test::oneWeightPlan(dir, "PackageTest", {2, 3}, {1, 2, 3, 4, 5, 6});
    if (edit)
      edit(p);
    if (seal)
      resa::test::sealPlanTo(dir, p);
    else
      writeFile(dir / "plan.pb", p.SerializeAsString());
  }

  // The message Package::load throws ("" when it loads).
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

TEST(PlanChecksum, Crc64MatchesTheStandardCheckValue) {
  EXPECT_EQ(resa::crc64("123456789"), 0x995DC9BBDF1939FAull); // CRC-64/XZ
  EXPECT_EQ(resa::crc64("6789", resa::crc64("12345")), resa::crc64("123456789"));
  EXPECT_EQ(resa::crc64(""), 0u);
}

TEST_F(PackageFixture, SealedPackageLoads) {
  write();
  EXPECT_EQ(loadError(), "");
  auto pkg = resa::Package::load(dir.string());
  EXPECT_EQ(pkg->weight("w").data<float>()[5], 6.0f);
}

TEST_F(PackageFixture, EveryChangedPlanByteIsRefused) {
  write();
  const std::string good = readFile(dir / "plan.pb");
  // (no log line per string the flips make invalid UTF-8)
  google::protobuf::LogHandler *logger = google::protobuf::SetLogHandler(nullptr);
  for (size_t i = 0; i < good.size(); ++i)
    for (unsigned char mask : {0x01, 0x80}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      writeFile(dir / "plan.pb", bad);
      EXPECT_NE(loadError(), "") << "byte " << i << " ^ " << int(mask);
    }
  google::protobuf::SetLogHandler(logger);
}

TEST_F(PackageFixture, ChangedWeightsHeaderIsAChecksumMismatch) {
  write();
  // The header's JSON is padded with spaces: a tab there is still valid JSON.
  std::string w = readFile(dir / "weights.safetensors");
  size_t pad = w.rfind("} ", resa::SafetensorsFile((dir / "weights.safetensors").string())
                                  .header()
                                  .size());
  ASSERT_NE(pad, std::string::npos);
  w[pad + 1] = '\t';
  writeFile(dir / "weights.safetensors", w);
  EXPECT_NE(loadError().find("checksum mismatch"), std::string::npos) << loadError();
}

TEST_F(PackageFixture, MissingOrMovedChecksumIsRefused) {
  write(nullptr, /*seal=*/false);
  EXPECT_NE(loadError().find("does not end with its checksum"), std::string::npos)
      << loadError();
  write();
  writeFile(dir / "plan.pb", readFile(dir / "plan.pb") + std::string("\x10\x02", 2));
  EXPECT_NE(loadError(), "");
}

TEST_F(PackageFixture, OtherFormatVersionIsRefusedFirst) {
  write([](resa::plan::Plan &p) { p.set_format_version(1); });
  EXPECT_NE(loadError().find("package format version 1"), std::string::npos) << loadError();
}

TEST_F(PackageFixture, WeightsFileMustBeANameInThePackage) {
  for (const char *name : {"../weights.safetensors", "/etc/passwd", "", "..", "sub/w"}) {
    write([&](resa::plan::Plan &p) { p.set_weights_file(name); });
    EXPECT_NE(loadError().find("is not a file name inside the package"), std::string::npos)
        << name << ": " << loadError();
  }
}

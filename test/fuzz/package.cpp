// Fuzzes the package loader: the input is a plan (plan.pb) and a weights file
// (the safetensors header and data), split by a 4-byte little-endian length
// of the plan at the front. When that word's top bit is set, the plan is
// sealed with a valid checksum first (sealPlan), so that mutated plans get
// past the checksum into the rest of the loader; otherwise the bytes are
// loaded as they are (the checksum check itself). Package::load must answer
// with a resa::Error or a package whose every weight lies inside the mapped
// file (or, for random weights, is declared in its header: their data is not
// in the file, and making them could take any amount of memory).
#include "FuzzUtil.h"

#include "resa/runtime/Package.h"
#include "resa/runtime/PlanChecksum.h"

#include "plan.pb.h"

#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  google::protobuf::SetLogHandler(nullptr); // no line per invalid UTF-8 string
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4)
    return 0;
  uint32_t planBytes;
  std::memcpy(&planBytes, data, 4);
  data += 4;
  size -= 4;
  const bool seal = planBytes >> 31;
  planBytes &= 0x7fffffffu;
  if (planBytes > size)
    planBytes = static_cast<uint32_t>(size);
  const std::string &dir = resa::fuzz::scratchDir();
  std::string plan(reinterpret_cast<const char *>(data), planBytes);
  if (seal) {
    // The header as the loader will see it: its length word, then the JSON
    // (cut at the end of the input).
    const uint8_t *weights = data + planBytes;
    size_t weightsSize = size - planBytes, header = weightsSize;
    if (weightsSize >= 8) {
      uint64_t n = 0;
      for (int i = 0; i < 8; ++i)
        n |= uint64_t(weights[i]) << (8 * i);
      header = n > weightsSize - 8 ? weightsSize : 8 + n;
    }
    plan = resa::sealPlan(std::move(plan),
                          std::string_view(reinterpret_cast<const char *>(weights), header));
  }
  resa::fuzz::writeFile(dir + "/plan.pb", plan.data(), plan.size());
  resa::fuzz::writeFile(dir + "/weights.safetensors", data + planBytes, size - planBytes);
  try {
    std::unique_ptr<resa::Package> pkg = resa::Package::load(dir);
    volatile uint8_t sink = 0;
    for (const resa::plan::Function &f : pkg->plan().functions())
      (void)pkg->function(f.name());
    // Every weight borrows bytes of the map: touch its first and last.
    for (const resa::plan::Value &v : pkg->plan().values()) {
      if (v.source_case() != resa::plan::Value::kWeight)
        continue;
      if (pkg->randomWeights()) {
        (void)pkg->weightEntry(v.weight());
        continue;
      }
      resa::Tensor t = pkg->weight(v.weight());
      if (t.nbytes() > 0) {
        sink = sink + static_cast<const uint8_t *>(t.raw())[0];
        sink = sink + static_cast<const uint8_t *>(t.raw())[t.nbytes() - 1];
      }
    }
  } catch (const resa::Error &) {
  }
  return 0;
}

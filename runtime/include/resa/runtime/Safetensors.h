// The weights file of a package, in the safetensors layout: an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the data. resa pads the header so that the data (and
// every tensor in it) starts on a 64-byte boundary, ready for mmap and upload.
#pragma once

#include "resa/kernels/Tensor.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace resa {

constexpr size_t kWeightAlignment = 64;

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0; // byte range within the data section
};

// Streams tensors into `path`: the header is written first from the entries'
// sizes, then `writeData(i, out)` is called for each entry in order and must
// write exactly its bytes. Without `writeData` the file is the header alone:
// the data section is declared, not written (a package of random weights).
// Returns the file size.
uint64_t writeSafetensors(const std::string &path, std::vector<SafetensorsEntry> entries,
                          const std::function<void(size_t, std::FILE *)> &writeData);

// Whether a weights file holds its data section or only declares it.
enum class SafetensorsData { Present, Absent };

// A read-only memory map of a safetensors file.
class SafetensorsFile {
public:
  // With SafetensorsData::Absent the file must end where its header does.
  explicit SafetensorsFile(const std::string &path,
                           SafetensorsData data = SafetensorsData::Present);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  uint64_t fileSize() const { return size_; }
  // The header's bytes as stored: its 8-byte length, then the JSON (what the
  // plan's checksum covers: PlanChecksum.h).
  std::string_view header() const {
    return std::string_view(static_cast<const char *>(map_), dataStart_);
  }
  const std::map<std::string, SafetensorsEntry> &entries() const { return entries_; }
  // The entry of that name; throws naming the tensor if absent.
  const SafetensorsEntry &entry(const std::string &name) const;
  // A tensor borrowing the mapped bytes; throws naming the tensor if absent,
  // or if the file holds no data.
  Tensor tensor(const std::string &name) const;

private:
  std::string path_;
  void *map_ = nullptr;
  uint64_t size_ = 0;
  uint64_t dataStart_ = 0;
  SafetensorsData data_;
  std::map<std::string, SafetensorsEntry> entries_;
};

} // namespace resa

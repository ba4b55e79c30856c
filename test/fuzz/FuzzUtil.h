// Helpers shared by the fuzz targets.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace resa::fuzz {

// A private scratch folder for this process, under $TMPDIR, holding the few
// small files each input is written to; removed at a normal exit.
inline const std::string &scratchDir() {
  // Never destroyed: the exit handler below runs after static destructors.
  static const std::string *dir = [] {
    const char *tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/resa-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      std::abort();
    auto *d = new std::string(tmpl);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratchDir(), ec);
    });
    return d;
  }();
  return *dir;
}

inline void writeFile(const std::string &path, const void *data, size_t size) {
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0)
    std::abort();
}

} // namespace resa::fuzz

// A JSON object built field by field, for resa-bench's result files (e2e and
// quality).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace resa::bench {

// `s` with quotes, backslashes and control characters escaped (no quotes
// around it).
inline std::string escape(const std::string &s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char u[8];
      std::snprintf(u, sizeof u, "\\u%04x", c);
      out += u;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// `v` printed with the printf format `spec` (one double): the JSON's numbers
// and the text tables printed beside it.
inline std::string fmt(const char *spec, double v) {
  char text[48];
  std::snprintf(text, sizeof text, spec, v);
  return text;
}

// Numbers that are not finite are written as null.
class JsonObject {
public:
  JsonObject &num(const std::string &k, double v) {
    return raw(k, std::isfinite(v) ? fmt("%.10g", v) : "null");
  }
  JsonObject &integer(const std::string &k, int64_t v) { return raw(k, std::to_string(v)); }
  JsonObject &text(const std::string &k, const std::string &v) {
    return raw(k, "\"" + escape(v) + "\"");
  }
  JsonObject &raw(const std::string &k, const std::string &json) {
    fields_.emplace_back(k, json);
    return *this;
  }
  std::string str() const {
    std::string s = "{";
    for (size_t i = 0; i < fields_.size(); ++i)
      s += (i ? ", \"" : "\"") + escape(fields_[i].first) + "\": " + fields_[i].second;
    return s + "}";
  }

private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Writes `json` (and a newline) to `path` through `path`.tmp renamed over
// it: a run killed mid-write leaves the previous file whole.
inline void writeJsonFile(const std::string &path, const std::string &json) {
  const std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "w");
  if (!f)
    throw std::runtime_error("cannot write " + tmp);
  const std::string text = json + "\n";
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot write " + path);
}

} // namespace resa::bench

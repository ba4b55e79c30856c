// JSON reader: recursive descent over the bytes, depth-limited.
#include "Json.h"

#include "Unicode.h"
#include "resa/kernels/Tensor.h"

#include <charconv>
#include <cmath>

namespace resa::json {

namespace {

std::string kindName(Value::Kind k) {
  switch (k) {
  case Value::Kind::Null: return "null";
  case Value::Kind::Bool: return "a boolean";
  case Value::Kind::Number: return "a number";
  case Value::Kind::String: return "a string";
  case Value::Kind::Array: return "an array";
  case Value::Kind::Object: return "an object";
  }
  return "?";
}

[[noreturn]] void wrongKind(std::string_view what, const char *expected, Value::Kind got) {
  throw Error(std::string(what) + ": expected " + expected + ", got " + kindName(got));
}

} // namespace

bool Value::asBool(std::string_view what) const {
  if (kind_ != Kind::Bool) wrongKind(what, "a boolean", kind_);
  return bool_;
}
double Value::asNumber(std::string_view what) const {
  if (kind_ != Kind::Number) wrongKind(what, "a number", kind_);
  return number_;
}
int64_t Value::asInt(std::string_view what) const {
  double d = asNumber(what);
  if (d != std::floor(d) || std::fabs(d) > 9007199254740992.0)
    throw Error(std::string(what) + ": expected an integer");
  return static_cast<int64_t>(d);
}
const std::string &Value::asString(std::string_view what) const {
  if (kind_ != Kind::String) wrongKind(what, "a string", kind_);
  return string_;
}
const std::vector<Value> &Value::items(std::string_view what) const {
  if (kind_ != Kind::Array) wrongKind(what, "an array", kind_);
  return array_;
}
const std::vector<std::pair<std::string, Value>> &Value::members(std::string_view what) const {
  if (kind_ != Kind::Object) wrongKind(what, "an object", kind_);
  return object_;
}
const Value *Value::find(std::string_view key) const {
  if (kind_ != Kind::Object) return nullptr;
  for (const auto &[k, v] : object_)
    if (k == key) return &v;
  return nullptr;
}

class Parser {
public:
  explicit Parser(std::string_view text) : s_(text) {}

  Value document() {
    Value v = value(0);
    skipSpace();
    if (pos_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

private:
  static constexpr int kMaxDepth = 512;
  std::string_view s_;
  size_t pos_ = 0;

  [[noreturn]] void fail(const std::string &msg) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') ++line, col = 1;
      else ++col;
    }
    throw Error("JSON line " + std::to_string(line) + ", column " + std::to_string(col) + ": " +
                msg);
  }

  void skipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    skipSpace();
    if (pos_ >= s_.size()) fail("unexpected end of input");
    Value v;
    char c = s_[pos_];
    if (c == '{') {
      v.kind_ = Value::Kind::Object;
      ++pos_;
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return v;
      }
      while (true) {
        skipSpace();
        if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string (object key)");
        std::string key = string();
        skipSpace();
        if (pos_ >= s_.size() || s_[pos_] != ':') fail("expected ':' after an object key");
        ++pos_;
        v.object_.emplace_back(std::move(key), value(depth + 1));
        skipSpace();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          return v;
        }
        fail("expected ',' or '}' in an object");
      }
    }
    if (c == '[') {
      v.kind_ = Value::Kind::Array;
      ++pos_;
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return v;
      }
      while (true) {
        v.array_.push_back(value(depth + 1));
        skipSpace();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          return v;
        }
        fail("expected ',' or ']' in an array");
      }
    }
    if (c == '"') {
      v.kind_ = Value::Kind::String;
      v.string_ = string();
      return v;
    }
    if (consume("true")) {
      v.kind_ = Value::Kind::Bool;
      v.bool_ = true;
      return v;
    }
    if (consume("false")) {
      v.kind_ = Value::Kind::Bool;
      return v;
    }
    if (consume("null")) return v;
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind_ = Value::Kind::Number;
      v.number_ = number();
      return v;
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  double number() {
    size_t start = pos_;
    auto digits = [&] {
      size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    if (s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') ++pos_;
    else if (digits() == 0) fail("malformed number");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) fail("malformed number");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) fail("malformed number");
    }
    double v = 0; // from_chars: independent of the C locale, unlike strtod
    std::from_chars(s_.data() + start, s_.data() + pos_, v);
    return v;
  }

  unsigned hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else fail("malformed \\u escape");
    }
    return v;
  }

  std::string string() {
    ++pos_; // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        break;
      }
      if (c < 0x20) fail("control character in a string");
      if (c != '\\') {
        // Copy a run of plain bytes at once.
        size_t from = pos_;
        while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\' &&
               static_cast<unsigned char>(s_[pos_]) >= 0x20)
          ++pos_;
        out.append(s_.substr(from, pos_ - from));
        continue;
      }
      if (++pos_ >= s_.size()) fail("unterminated string");
      char e = s_[pos_++];
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        unsigned cp = hex4();
        if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (!consume("\\u")) fail("high surrogate not followed by a low surrogate");
          unsigned lo = hex4();
          if (lo < 0xDC00 || lo > 0xDFFF) fail("high surrogate not followed by a low surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        unicode::appendUtf8(out, static_cast<char32_t>(cp));
        break;
      }
      default: fail(std::string("unknown escape '\\") + e + "'");
      }
    }
    if (!unicode::isValidUtf8(out)) fail("string is not valid UTF-8");
    return out;
  }
};

Value parse(std::string_view text) { return Parser(text).document(); }

std::string quote(std::string_view s) {
  static const char *hex = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (c < 0x20 || c == 0x7f) {
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else {
        out += ch;
      }
    }
  }
  out += '"';
  return out;
}

} // namespace resa::json

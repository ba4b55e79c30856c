// A small JSON reader (RFC 8259) for tokenizer files, and string quoting for
// JSON output. Objects keep their members in file order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace resa::json {

class Value {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }
  bool isNumber() const { return kind_ == Kind::Number; }
  bool isBool() const { return kind_ == Kind::Bool; }

  // Typed access; a wrong kind is a resa::Error saying what was expected
  // (`what` names the field in the message).
  bool asBool(std::string_view what = "value") const;
  double asNumber(std::string_view what = "value") const;
  int64_t asInt(std::string_view what = "value") const; // integral numbers only
  const std::string &asString(std::string_view what = "value") const;
  const std::vector<Value> &items(std::string_view what = "value") const; // array elements
  // Object members in file order.
  const std::vector<std::pair<std::string, Value>> &members(std::string_view what = "value") const;

  // Object member or nullptr (also nullptr when this is not an object).
  const Value *find(std::string_view key) const;
  // Object member that is present and not null, or nullptr.
  const Value *get(std::string_view key) const {
    const Value *v = find(key);
    return v && !v->isNull() ? v : nullptr;
  }

private:
  friend class Parser;
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Value> array_;
  std::vector<std::pair<std::string, Value>> object_;
};

// Parses one JSON document (surrounding whitespace allowed). Errors are
// resa::Error "line L, column C: ...".
Value parse(std::string_view text);

// `s` (UTF-8) as a JSON string literal, quotes included; control characters
// escaped, everything else written as is.
std::string quote(std::string_view s);

} // namespace resa::json

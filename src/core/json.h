// JSON text shared by every writer in tiffin (CLI output, inspect, diff,
// doctor, bundle manifests, KServe responses): one escaper, so every
// document is valid the same way.
#ifndef TIFFIN_CORE_JSON_H_
#define TIFFIN_CORE_JSON_H_

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tiffin {

// Appends `s` as a quoted JSON string: quotes and backslashes escaped,
// \n \r \t by name, other control bytes as \u00XX. Bytes >= 0x80 pass
// through (the text is UTF-8).
inline void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// Appends a number in its shortest round-trip form. NaN and infinities have
// no JSON number form: they are written as null, so that strict parsers (Go,
// Java, JavaScript) accept the document.
template <typename T>
void AppendJsonNumber(T v, std::string* out) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(v)) {
      out->append("null");
      return;
    }
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

inline std::string JsonQuote(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

// ["a","b"].
inline std::string JsonStringList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(items[i], &out);
  }
  out.push_back(']');
  return out;
}

}  // namespace tiffin

#endif  // TIFFIN_CORE_JSON_H_

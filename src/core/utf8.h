// UTF-8 encoding of one code point, shared by the readers that decode
// UTF-32 text (numpy 'U' arrays in .npy files and in pickles) and latin-1
// pickle strings.
#ifndef TIFFIN_CORE_UTF8_H_
#define TIFFIN_CORE_UTF8_H_

#include <cstdint>
#include <string>

namespace tiffin {

// Appends the UTF-8 bytes of `cp` to `out`. REQUIRES: cp <= 0x1FFFFF (the
// four-byte form); callers pass code points read from files as they are.
inline void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace tiffin

#endif  // TIFFIN_CORE_UTF8_H_

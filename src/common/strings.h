// Small string helpers shared by the parsers.
#pragma once

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace lakestream {

/// `s` without leading and trailing spaces and tabs (CSV fields, date and number text).
inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// `s` as a base-10 int64 (an optional sign, then digits only), or nullopt when it is not one or does
/// not fit (never throws, unlike std::stoll: text from users, files and other writers can hold
/// anything, e.g. "99999999999999999999").
inline std::optional<int64_t> ParseInt64(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  const std::string text(s);
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno == ERANGE || end != text.c_str() + text.size() || !(std::isdigit(static_cast<unsigned char>(text.back())))) {
    return std::nullopt;
  }
  return static_cast<int64_t>(v);
}

/// `s` with ASCII letters lower-cased (SQL keywords and identifiers, yes/no words); other bytes unchanged.
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// The number of code points in UTF-8 text (bytes that are not continuation bytes 10xxxxxx): the
/// display width of a table cell, JSON Schema's string length (RFC 8259 strings are UTF-8).
inline size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

/// `s` with ASCII letters upper-cased (stock codes, country names, rule keys); other bytes unchanged.
inline std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

/// Percent-encoding (RFC 3986 §2.1): the unreserved characters (A-Z a-z 0-9 - _ . ~) and those in
/// `keep` stay, every other byte becomes %XX with upper-case hex. Used for Delta paths (PROTOCOL.md,
/// "Path": URI-encoded) and Azure blob names in URLs.
inline std::string PercentEncode(std::string_view s, std::string_view keep = "") {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '_' || c == '.' || c == '~';
    if (unreserved || keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

/// The inverse of PercentEncode: each %XX (either case of hex) becomes its byte; a '%' not followed
/// by two hex digits stays as it is.
inline std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace lakestream

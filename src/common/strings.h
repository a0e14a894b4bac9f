// Small string helpers shared by the parsers.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace lakestream {

/// `s` without leading and trailing spaces and tabs (CSV fields, date and number text).
inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
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

}  // namespace lakestream

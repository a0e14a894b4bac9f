// Base64 (RFC 4648 §4, with padding) for bytes that must travel inside JSON text: Kafka header
// values and payloads that are not UTF-8. Backed by OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lakestream {

/// Encodes `bytes`; the result is 4 * ceil(n / 3) characters.
std::string Base64Encode(std::string_view bytes);
/// Decodes padded base64; nullopt when `text` is not valid base64 (wrong length or alphabet).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace lakestream

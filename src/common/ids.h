// Identifiers: random UUIDs for data files and Delta metadata ids, and stable name-based ids for events.
#pragma once

#include <string>
#include <string_view>

namespace lakestream {

/// A random RFC 9562 version-4 UUID, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" (from a CSPRNG).
std::string RandomUuid();

/// A name-based RFC 9562 version-8 UUID: the first 128 bits of SHA-256(name), with the version and
/// variant bits set. The same name always gives the same id; used for `event_id` so that a replayed
/// line gets the same id every time (docs/events/order-event.md).
std::string NameBasedUuid(std::string_view name);

/// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace lakestream

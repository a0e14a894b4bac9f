// AzureBlobStorage: Storage on a container (and a path prefix) of an Azure storage account, through
// the Blob service REST API over libcurl. ADLS Gen2 (abfss://…dfs.core.windows.net) locations are
// served through the same account's Blob endpoint, which Azure keeps interoperable with the dfs
// endpoint ("multi-protocol access" on hierarchical-namespace accounts): Databricks reads what we
// write, and we skip the zero-length directory markers such accounts list.
//
// The Delta commit is one Put Blob with If-None-Match: * (Blob REST API, "Specifying conditional
// headers"): 201 commits, 409/412 loses the race, and an unknown outcome (timeout, 5xx) is settled by
// reading the blob back and comparing bytes. Large files go up in blocks (Put Block + Put Block List),
// reads of data files are ranged, listings page with the continuation marker. 429, 5xx and network
// errors are retried with exponential backoff and full jitter, honouring Retry-After, within a
// bounded total time (AzureOptions::retry_budget_ms).
//
// Credentials (the names delta-rs/object_store and the Azure SDKs read; a lakestream setting wins
// over its variable): AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY (SharedKey signing),
// AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_SAS_KEY, AZURE_STORAGE_TOKEN (an Azure AD bearer token the
// environment supplies), AZURE_STORAGE_ENDPOINT, AZURE_STORAGE_USE_EMULATOR. They never appear in
// uri(), errors or logs: messages name az://<container>/<path> only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "lake/storage/storage.h"

namespace lakestream {

/// Where a table lives in Azure, parsed from its URI.
struct AzureLocation {
  std::string account;    // "" when the URI does not name it (az://container/path)
  std::string container;
  std::string prefix;     // path inside the container, no leading or trailing '/'; may be empty
  bool dfs_host = false;  // the URI named the ADLS Gen2 dfs endpoint
};

/// Parses the URI forms delta-rs and Spark accept (docs/storage.md):
///   az://<container>/<path>, azure://<container>/<path>, adl://<container>/<path>,
///   abfs[s]://<container>/<path>, abfs[s]://<container>@<account>.dfs.core.windows.net/<path>
///   (or .blob.core.windows.net), https://<account>.blob|dfs.core.windows.net/<container>/<path>.
/// Errors: InvalidArgument naming the URI and the expected forms.
Result<AzureLocation> ParseAzureLocation(const std::string& uri);

/// How to reach and sign for the account. Values come from the environment, then settings
/// (SetAzureOptions).
struct AzureOptions {
  std::string account_name;
  std::string account_key;   // base64, as the portal shows it
  std::string sas_token;     // with or without the leading '?'
  std::string bearer_token;  // Azure AD access token for https://storage.azure.com/
  /// Blob service URL: "https://<account>.blob.core.windows.net" when empty; for Azurite
  /// "http://127.0.0.1:10000/devstoreaccount1" (path-style: the account is the first path segment).
  std::string endpoint;
  bool use_emulator = false;  // Azurite's well-known account, key and endpoint
  /// Local cache of data files and checkpoints (and the staging area of uploads). "" = a
  /// "lakestream-azure-cache" directory in the system temp dir.
  std::string cache_dir;
  int64_t cache_max_bytes = int64_t{4} << 30;  // evicts least recently used files above this, bytes
  int64_t block_size_bytes = int64_t{8} << 20;  // Put Block size; files above it upload in blocks
  int upload_concurrency = 4;                   // blocks in flight per file: memory = this × block size
  int64_t retry_budget_ms = 60000;              // total time one operation may spend retrying, ms
  int64_t initial_backoff_ms = 100;
  int64_t max_backoff_ms = 8000;
  int64_t request_timeout_ms = 120000;           // one HTTP exchange, body included, ms
  int list_page_size = 5000;                     // maxresults of one List Blobs page (the service's maximum)
};

/// The options from the environment variables above (and LAKESTREAM_AZURE_CACHE_DIR).
AzureOptions AzureOptionsFromEnvironment();

/// Replaces the options every later OpenStorage of an Azure location uses (the CLI calls it once
/// with the environment overlaid by settings). Thread-safe.
void SetAzureOptions(const AzureOptions& options);

/// The string SharedKey signs for one request (Azure Storage REST, "Authorize with Shared Key",
/// Blob service 2009-09-19 and later): VERB, the eleven standard headers (Content-Length empty
/// when 0), the x-ms-* headers lower-cased and sorted, then "/<account><path>" and each query
/// parameter "\n<name>:<value>" sorted by name. `headers`: name/value pairs as sent; `query`:
/// decoded name/value pairs.
std::string SharedKeyStringToSign(const std::string& method, const std::vector<std::pair<std::string, std::string>>& headers,
                                  const std::string& account, const std::string& url_path,
                                  const std::vector<std::pair<std::string, std::string>>& query);

/// base64(HMAC-SHA256(base64decode(key), string_to_sign)). Errors: InvalidArgument when the key is
/// not base64 (the message does not show the key).
Result<std::string> SharedKeySignature(const std::string& account_key_base64, const std::string& string_to_sign);

/// Opens the store at an Azure location with the current options. `create_if_missing` creates the
/// container when absent; otherwise a location holding no blob is NotFound. Errors: InvalidArgument
/// (bad URI, no account name) naming the variable to set; IoError/Unavailable from the service.
Result<std::shared_ptr<Storage>> OpenAzureStorage(const std::string& location, bool create_if_missing);

}  // namespace lakestream

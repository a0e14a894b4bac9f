// The notifications pipeline's reports (docs/pipelines/notifications.md, "Reports"), read from the
// Delta snapshots like any reader: the detailed message report from silver/notifications and the
// daily bill from gold/billing_daily and gold/billing_daily_adjustments. Each streams its rows to a
// sink in chunks of DuckDB's 2,048 rows, so a report of millions of lines never sits whole in memory.
// Used by `lakestream report` (and the API). Stateless; each call opens its own DuckDB.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lakestream {

enum class ReportFormat { kHuman, kCsv, kJson };
/// "human", "csv", "json". Errors: InvalidArgument naming the accepted values.
Result<ReportFormat> ParseReportFormat(std::string_view text);

/// Receives the report text piece by piece; returns false when the reader has gone (a closed HTTP
/// connection), which stops the query and makes the report return Cancelled.
using ReportSink = std::function<bool(std::string_view)>;

/// A report bound: "2020-02-03" (that day's start at 00:00 UTC, or with `end_of_day` the next day's,
/// so a date as an end is inclusive) or an ISO 8601 instant with offset. Returns UTC µs, or nullopt
/// when the text is neither.
std::optional<int64_t> ParseReportInstant(const std::string& text, bool end_of_day);

struct NotificationReportQuery {
  std::string customer;  // a customer_id, or a customer_name (case-insensitive)
  int64_t from_us = 0;   // event time, inclusive (UTC µs)
  int64_t to_us = 0;     // event time, exclusive
};
/// Every message of the customer in [from, to), in event-time order (message_id breaks ties): id,
/// payload and date-time (UTC, "+00:00", milliseconds). Human form: "Relatório Detalhado de
/// Notificações", "= Cliente: <name> =", then per message "Mensagem ID", "Payload" (quoted) and "Data
/// hora". CSV: customer_id,customer_name,message_id,channel,event_datetime,payload (RFC 4180). JSON: an
/// array of objects with the same keys. Returns the number of messages. Errors: NotFound when the
/// lakehouse has no silver/notifications table; Cancelled when the sink returns false; DuckDB's.
Result<int64_t> WriteNotificationReport(const std::string& lake_root, const NotificationReportQuery& q,
                                        ReportFormat format, const ReportSink& sink);

/// The bills of day `date_days` (days since 1970-01-01, event time UTC), one per customer (or only
/// `customer`), then the adjustments recorded for that day. Human form per bill: "Relatório de
/// Cobrança", "Cliente", "Notificações Whatsapp", "Valor: R$ 1000,00" (pt-BR decimal comma, rounded
/// half up to the centavo), "Data"; adjustments as "Ajuste de Cobrança" blocks with the date they were
/// recorded. CSV/JSON: kind (bill|adjustment), billing_date, recorded_on, customer_id, customer_name,
/// notifications, price_brl, amount_brl (exact, 4 decimals), is_final. Returns the number of rows.
/// Errors: NotFound when the lakehouse has no gold/billing_daily table; Cancelled when the sink returns false; DuckDB's.
Result<int64_t> WriteBillingReport(const std::string& lake_root, int64_t date_days,
                                   const std::optional<std::string>& customer, ReportFormat format,
                                   const ReportSink& sink);

/// "1000.0000" -> "1000,00": BRL amount text (a decimal with '.') in pt-BR form with 2 decimals,
/// rounded half up; no thousands separator, as in the billing report's format.
std::string FormatBrl(std::string_view decimal);

}  // namespace lakestream

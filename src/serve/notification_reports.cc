#include "serve/notification_reports.h"

#include <cstdio>
#include <filesystem>

#include "common/json_writer.h"
#include "common/time.h"
#include "format/schema_decoder.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"
#include "query/result_writer.h"

namespace lakestream {

namespace {

using Row = std::vector<std::optional<std::string_view>>;

// The current snapshot of <root>/<table> as a parenthesised SELECT. Errors: NotFound naming the table.
Result<std::string> Scan(ColumnarEngine& engine, const std::string& root, const std::string& table) {
  const std::string location = JoinLocation(root, table);
  auto missing = [&] {
    return NotFound("no table {} under {}: run the notifications pipeline first (lakestream run --pipeline "
                    "pipelines/notifications.toml --lakehouse {})",
                    table, root, root);
  };
  auto storage = OpenStorage(location, false);
  if (!storage.ok()) return storage.status().code() == StatusCode::kNotFound ? missing() : storage.status();
  auto listed = (*storage)->List("_delta_log");
  if (!listed.ok()) return listed.status();
  if (listed->empty()) return missing();
  ASSIGN_OR_RETURN(auto t, DeltaTable::Open(*storage, table));
  ASSIGN_OR_RETURN(std::string sql, SnapshotScanSql(t->snapshot(), t->storage(), engine));
  return "(" + sql + ")";
}

Status ReaderGone() { return Cancelled("the report's reader stopped reading (closed its connection)"); }

std::string CsvLine(const Row& row) {
  std::string line;
  for (size_t i = 0; i < row.size(); ++i) {
    if (i) line += ',';
    if (row[i]) AppendCsvField(&line, *row[i]);
  }
  return line + "\n";
}

// Streams `select` (VARCHAR columns named `names`) as CSV with a header, or as a JSON array.
Result<int64_t> WriteTable(ColumnarEngine& engine, const std::string& select, const std::vector<std::string>& names,
                           ReportFormat format, const std::vector<bool>& json_number, const ReportSink& sink) {
  int64_t n = 0;
  bool open = true;  // the reader still reads
  if (format == ReportFormat::kCsv) {
    std::string header;
    for (size_t i = 0; i < names.size(); ++i) header += (i ? "," : "") + names[i];
    open = sink(header + "\n");
  } else {
    open = sink("[");
  }
  if (!open) return ReaderGone();
  RETURN_IF_ERROR(engine.ForEachRowWhile(select, [&](const Row& row) {
    if (format == ReportFormat::kCsv) {
      open = sink(CsvLine(row));
    } else {
      JsonWriter w;
      w.BeginObject();
      for (size_t i = 0; i < names.size(); ++i) {
        w.Key(names[i]);
        if (!row[i]) {
          w.Null();
        } else if (json_number[i]) {
          w.Raw(*row[i]);
        } else {
          w.String(*row[i]);
        }
      }
      w.EndObject();
      open = sink((n ? ",\n" : "\n") + w.Take());
    }
    n++;
    return open;
  }));
  if (open && format == ReportFormat::kJson) open = sink(n ? "\n]\n" : "]\n");
  if (!open) return ReaderGone();
  return n;
}

}  // namespace

std::optional<int64_t> ParseReportInstant(const std::string& text, bool end_of_day) {
  if (text.size() == 10) {
    int y = 0, m = 0, d = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 ||
        !IsValidDate(y, static_cast<unsigned>(m), static_cast<unsigned>(d))) {
      return std::nullopt;
    }
    return (DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) + (end_of_day ? 1 : 0)) * 86400LL *
           1000000;
  }
  return ParseIsoTimestampWithOffset(text);
}

Result<ReportFormat> ParseReportFormat(std::string_view text) {
  if (text == "human") return ReportFormat::kHuman;
  if (text == "csv") return ReportFormat::kCsv;
  if (text == "json") return ReportFormat::kJson;
  return InvalidArgument("--format '{}' is not one of human, csv, json", text);
}

std::string FormatBrl(std::string_view decimal) {
  bool negative = !decimal.empty() && decimal[0] == '-';
  if (negative) decimal.remove_prefix(1);
  size_t dot = decimal.find('.');
  std::string whole(decimal.substr(0, dot)), frac(dot == std::string_view::npos ? "" : decimal.substr(dot + 1));
  while (frac.size() < 3) frac += '0';
  int64_t cents = std::stoll(whole.empty() ? "0" : whole) * 100 + std::stoll(frac.substr(0, 2));
  if (frac[2] >= '5') cents++;  // half up on the third decimal
  return fmt::format("{}{},{:02}", negative ? "-" : "", cents / 100, cents % 100);
}

Result<int64_t> WriteNotificationReport(const std::string& lake_root, const NotificationReportQuery& q,
                                        ReportFormat format, const ReportSink& sink) {
  ASSIGN_OR_RETURN(auto engine, ColumnarEngine::Open(1, "1GB"));
  ASSIGN_OR_RETURN(std::string silver, Scan(*engine, lake_root, "silver/notifications"));
  const std::string c = ColumnarEngine::Quote(q.customer);
  const std::string select =
      "SELECT customer_id, customer_name, message_id, channel, strftime(event_datetime, '%Y-%m-%dT%H:%M:%S.%g') || "
      "'+00:00', payload FROM " + silver + " WHERE (customer_id = " + c + " OR lower(customer_name) = lower(" + c +
      ")) AND epoch_us(event_datetime) >= " + std::to_string(q.from_us) + " AND epoch_us(event_datetime) < " +
      std::to_string(q.to_us) + " ORDER BY event_datetime, message_id";
  if (format != ReportFormat::kHuman) {
    return WriteTable(*engine, select,
                      {"customer_id", "customer_name", "message_id", "channel", "event_datetime", "payload"}, format,
                      std::vector<bool>(6, false), sink);
  }
  int64_t n = 0;
  std::string current;
  if (!sink("Relatório Detalhado de Notificações\n")) return ReaderGone();
  bool open = true;
  RETURN_IF_ERROR(engine->ForEachRowWhile(select, [&](const Row& row) {
    const std::string customer(row[1].value_or(row[0].value_or("")));
    std::string text;
    if (n == 0 || customer != current) {
      text = "= Cliente: " + customer + " =\n";
      current = customer;
    }
    open = sink(text + "Mensagem ID: " + std::string(row[2].value_or("")) + "\nPayload: \"" + std::string(row[5].value_or("")) +
         "\"\nData hora: " + std::string(row[4].value_or("")) + "\n\n");
    n++;
    return open;
  }));
  if (open && n == 0) open = sink("(nenhuma notificação de " + q.customer + " no período)\n");
  if (!open) return ReaderGone();
  return n;
}

Result<int64_t> WriteBillingReport(const std::string& lake_root, int64_t date_days,
                                   const std::optional<std::string>& customer, ReportFormat format,
                                   const ReportSink& sink) {
  ASSIGN_OR_RETURN(auto engine, ColumnarEngine::Open(1, "1GB"));
  ASSIGN_OR_RETURN(std::string bills, Scan(*engine, lake_root, "gold/billing_daily"));
  ASSIGN_OR_RETURN(std::string adjustments, Scan(*engine, lake_root, "gold/billing_daily_adjustments"));
  const std::string date = ColumnarEngine::Quote(FormatDate(date_days)) + "::DATE";
  std::string who = "TRUE";
  if (customer) {
    const std::string c = ColumnarEngine::Quote(*customer);
    who = "(customer_id = " + c + " OR lower(customer_name) = lower(" + c + "))";
  }
  const std::string select =
      "SELECT kind, billing_date::VARCHAR, recorded_on::VARCHAR, customer_id, customer_name, notifications::VARCHAR, "
      "price_brl::VARCHAR, amount_brl::VARCHAR, is_final::VARCHAR FROM ("
      "SELECT 'bill' AS kind, billing_date, NULL::DATE AS recorded_on, customer_id, customer_name, notifications, "
      "price_brl, amount_brl, is_final, 0 AS o FROM " + bills + " WHERE billing_date = " + date + " AND " + who +
      " UNION ALL SELECT 'adjustment', billing_date, recorded_on, customer_id, customer_name, notifications, price_brl, "
      "amount_brl, NULL, 1 FROM " + adjustments + " WHERE billing_date = " + date + " AND " + who +
      ") ORDER BY o, notifications DESC, customer_id, recorded_on";
  if (format != ReportFormat::kHuman) {
    return WriteTable(*engine, select,
                      {"kind", "billing_date", "recorded_on", "customer_id", "customer_name", "notifications",
                       "price_brl", "amount_brl", "is_final"},
                      format, {false, false, false, false, false, true, true, true, true}, sink);
  }
  int64_t n = 0;
  bool open = true;
  RETURN_IF_ERROR(engine->ForEachRowWhile(select, [&](const Row& row) {
    const bool bill = row[0] == std::optional<std::string_view>("bill");
    std::string block = n ? "\n" : "";
    block += bill ? "Relatório de Cobrança\n" : "Ajuste de Cobrança (notificações recebidas após o fechamento do dia)\n";
    block += "Cliente: " + std::string(row[4].value_or(row[3].value_or(""))) + "\n";
    block += "Notificações Whatsapp: " + std::string(row[5].value_or("0")) + "\n";
    block += "Valor: R$ " + FormatBrl(row[7].value_or("0")) + "\n";
    block += "Data: " + std::string(row[1].value_or("")) + "\n";
    if (!bill) block += "Registrado em: " + std::string(row[2].value_or("")) + "\n";
    if (bill && row[8] != std::optional<std::string_view>("true")) {
      block += "(provisório: o dia ainda não foi fechado pelo watermark)\n";
    }
    open = sink(block);
    n++;
    return open;
  }));
  if (open && n == 0) open = sink("(nenhuma cobrança em " + FormatDate(date_days) + ")\n");
  if (!open) return ReaderGone();
  return n;
}

}  // namespace lakestream

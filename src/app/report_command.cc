#include "app/report_command.h"

#include <cstdio>
#include <string>

#include "common/time.h"
#include "serve/notification_reports.h"

namespace lakestream {

namespace {

struct ReportOptions {
  std::string lakehouse = "./lakehouse";
  std::string customer, from, to, date, format = "human", output;
  CLI::App* notifications = nullptr;
  CLI::App* billing = nullptr;
};

ReportOptions& Opts() {
  static ReportOptions o;
  return o;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "lakestream report: %s\n", message.c_str());
  return 2;
}

}  // namespace

CLI::App* AddReportCommand(CLI::App& app) {
  ReportOptions& o = Opts();
  auto* report = app.add_subcommand("report", "Reports of the notifications pipeline (docs/pipelines/notifications.md)");
  report->require_subcommand(1);
  auto common = [&](CLI::App* c) {
    c->add_option("--lakehouse,--lake", o.lakehouse, "Root of the lakehouse: a directory or an Azure location (az://…, abfss://…; docs/storage.md) [default ./lakehouse]")->type_name("path");
    c->add_option("--format", o.format, "human (pt-BR), csv or json [default human]")->type_name("FORMAT");
    c->add_option("--output", o.output, "Write to this file instead of stdout")->type_name("path");
  };
  o.notifications = report->add_subcommand(
      "notifications", "Detailed report: every message of a customer in a time range, in event-time order");
  o.notifications->add_option("--customer", o.customer, "customer_id or customer name")->required();
  o.notifications->add_option("--from", o.from, "Start, inclusive: YYYY-MM-DD or ISO 8601 with offset")->required();
  o.notifications->add_option("--to", o.to, "End: a date is inclusive (the whole day), an instant exclusive")->required();
  common(o.notifications);
  o.billing = report->add_subcommand("billing", "Daily billing: per customer, WhatsApp notifications and amount in BRL");
  o.billing->add_option("--date", o.date, "Day of event time (UTC), YYYY-MM-DD")->required();
  o.billing->add_option("--customer", o.customer, "Only this customer_id or customer name");
  common(o.billing);
  return report;
}

int RunReportCommand() {
  ReportOptions& o = Opts();
  auto format = ParseReportFormat(o.format);
  if (!format.ok()) return Usage(format.status().message());
  std::FILE* out = stdout;
  if (!o.output.empty()) {
    out = std::fopen(o.output.c_str(), "w");
    if (!out) return Usage("cannot write --output " + o.output);
  }
  auto sink = [out](std::string_view s) { return std::fwrite(s.data(), 1, s.size(), out) == s.size(); };
  Result<int64_t> n = 0;
  if (o.notifications->parsed()) {
    auto from = ParseReportInstant(o.from, false), to = ParseReportInstant(o.to, true);
    if (!from) return Usage("--from '" + o.from + "' is not YYYY-MM-DD or an ISO 8601 instant with offset");
    if (!to) return Usage("--to '" + o.to + "' is not YYYY-MM-DD or an ISO 8601 instant with offset");
    if (*to <= *from) return Usage("--to must be after --from");
    n = WriteNotificationReport(o.lakehouse, {o.customer, *from, *to}, *format, sink);
  } else {
    auto day = ParseReportInstant(o.date, false);
    if (!day || o.date.size() != 10) return Usage("--date '" + o.date + "' is not a date YYYY-MM-DD");
    n = WriteBillingReport(o.lakehouse, *day / (86400LL * 1000000),
                           o.customer.empty() ? std::nullopt : std::optional<std::string>(o.customer), *format, sink);
  }
  if (out != stdout) std::fclose(out);
  if (!n.ok()) {
    std::fprintf(stderr, "lakestream report: %s\n", n.status().ToString().c_str());
    return 1;
  }
  if (!o.output.empty()) std::fprintf(stderr, "%lld rows written to %s\n", static_cast<long long>(*n), o.output.c_str());
  return 0;
}

}  // namespace lakestream

#include "source/file/order_csv.h"

#include "common/strings.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace lakestream {
namespace {

// The model's fields in OrderLine order, each with the header names that map to it.
struct FieldAliases {
  const char* model_name;
  std::vector<const char*> aliases;
};
const std::array<FieldAliases, 8>& Mapping() {
  static const std::array<FieldAliases, 8> kMapping = {{
      {"TransactionNo", {"transactionno", "invoiceno", "invoice"}},
      {"Date", {"date", "invoicedate"}},
      {"ProductNo", {"productno", "stockcode"}},
      {"ProductName", {"productname", "description"}},
      {"Price", {"price", "unitprice"}},
      {"Quantity", {"quantity"}},
      {"CustomerNo", {"customerno", "customerid", "customer id"}},
      {"Country", {"country"}},
  }};
  return kMapping;
}

std::string Normalize(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace

std::string NormalizeCustomerNo(std::string_view text) {
  std::string_view t = TrimBlanks(text);
  auto dot = t.find('.');
  if (dot != std::string_view::npos && dot > 0) {
    std::string_view whole = t.substr(0, dot), frac = t.substr(dot + 1);
    bool digits = std::all_of(whole.begin(), whole.end(), [](char c) { return c >= '0' && c <= '9'; });
    bool zeros = !frac.empty() && std::all_of(frac.begin(), frac.end(), [](char c) { return c == '0'; });
    if (digits && zeros) return std::string(whole);
  }
  return std::string(t);
}

Result<std::unique_ptr<OrderCsvReader>> OrderCsvReader::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto csv, CsvReader::Open(path));
  std::unique_ptr<OrderCsvReader> r(new OrderCsvReader());
  r->csv_ = std::move(csv);
  CsvRecord header;
  ASSIGN_OR_RETURN(bool has, r->csv_->Next(&header));
  if (!has) return InvalidArgument("{}: the file is empty; expected a header line", path);
  std::vector<std::string> names;
  for (const auto& f : header.fields) names.push_back(Normalize(f));
  std::string missing;
  const auto& mapping = Mapping();
  for (size_t k = 0; k < mapping.size(); ++k) {
    int found = -1;
    for (size_t c = 0; c < names.size() && found < 0; ++c) {
      for (const char* alias : mapping[k].aliases) {
        if (names[c] == Normalize(alias)) {
          found = static_cast<int>(c);
          break;
        }
      }
    }
    if (found < 0) {
      missing += std::string(missing.empty() ? "" : ", ") + mapping[k].model_name + " (accepted: ";
      for (size_t a = 0; a < mapping[k].aliases.size(); ++a) {
        missing += std::string(a ? "/" : "") + mapping[k].aliases[a];
      }
      missing += ")";
    }
    r->index_[k] = found;
  }
  if (!missing.empty()) {
    return InvalidArgument(
        "{}: header lacks the online-shop model column(s) {}; expected "
        "TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country or "
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country",
        path, missing);
  }
  r->header_fields_ = header.fields.size();
  r->dialect_ = names[static_cast<size_t>(r->index_[0])] == "transactionno" ? "kaggle" : "uci";
  return r;
}

Result<bool> OrderCsvReader::Next(OrderLine* out, int64_t* line, bool* field_count_ok) {
  ASSIGN_OR_RETURN(bool has, csv_->Next(&record_));
  if (!has) return false;
  // A blank trailing line is not a record.
  while (record_.fields.size() == 1 && record_.fields[0].empty()) {
    ASSIGN_OR_RETURN(has, csv_->Next(&record_));
    if (!has) return false;
  }
  *line = ++line_;
  *field_count_ok = record_.fields.size() == header_fields_;
  auto get = [&](int k) -> std::string {
    size_t c = static_cast<size_t>(index_[static_cast<size_t>(k)]);
    return c < record_.fields.size() ? record_.fields[c] : std::string();
  };
  out->transaction_no = get(0);
  out->date = get(1);
  out->product_no = get(2);
  out->product_name = get(3);
  out->price = get(4);
  out->quantity = get(5);
  out->customer_no = NormalizeCustomerNo(get(6));
  out->country = get(7);
  return true;
}

}  // namespace lakestream

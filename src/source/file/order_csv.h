// OrderCsv: reads order lines from a CSV file in the online-shop model, in either header dialect,
// through one column mapping.
//
//   Kaggle model:  TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country
//   UCI original:  InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
//
// Columns may come in any order; names are matched case-insensitively after trimming. Customer ids
// written as floats ("17850.0", the UCI by-day files) are normalised to their integer text.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "format/order_event.h"
#include "source/file/csv_reader.h"

namespace lakestream {

class OrderCsvReader {
 public:
  /// Opens `path` (.csv or .csv.gz) and maps its header. Errors: NotFound/IoError for the file;
  /// InvalidArgument naming the missing model columns and the accepted names.
  static Result<std::unique_ptr<OrderCsvReader>> Open(const std::string& path);

  /// Reads the next data line. Returns false at end of file. `line` receives the 1-based data line
  /// number (the header is not counted). A record with the wrong number of fields is still returned,
  /// with the fields it has, and `field_count_ok` false: the replay publishes it and silver quarantines
  /// it, so nothing is lost.
  Result<bool> Next(OrderLine* out, int64_t* line, bool* field_count_ok);

  /// "uci" or "kaggle": which header names the file used for TransactionNo.
  const std::string& dialect() const { return dialect_; }
  int64_t bytes_read() const { return csv_->bytes_read(); }

 private:
  std::unique_ptr<CsvReader> csv_;
  std::array<int, 8> index_{};  // model field -> column index
  size_t header_fields_ = 0;
  int64_t line_ = 0;
  std::string dialect_;
  CsvRecord record_;
};

/// "17850.0" -> "17850", " 17850 " -> "17850"; other text is returned trimmed and unchanged.
std::string NormalizeCustomerNo(std::string_view text);

}  // namespace lakestream

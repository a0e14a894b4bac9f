#!/usr/bin/python3
"""An independent recount of the orders gold tables from the input CSV, with pandas.

Shares no code with lakestream or with gold_from_csv.sql: it applies the rules of
docs/pipelines/orders.md (the defaults of pipelines/orders.toml) itself, with exact decimal
arithmetic (Python's decimal module) for money, and writes one CSV per gold table that
reconcile_orders compares with the lake:

    /usr/bin/python3 tests/reconcile/gold_pandas.py --input data/online-shop/X.csv.gz --out DIR

Run with Debian's /usr/bin/python3 (python3-pandas).
"""
import argparse
import os
import re
import sys
from decimal import Decimal, ROUND_HALF_UP

import pandas as pd

ALIASES = {"EIRE": "Ireland", "RSA": "South Africa", "USA": "United States", "CZECH REPUBLIC": "Czechia",
           "EUROPEAN COMMUNITY": "European Union", "UNSPECIFIED": "Unknown"}
ADJUSTMENT_CODES = {"POST", "DOT", "C2", "M", "D", "S", "B", "CRUK", "BANK CHARGES", "AMAZONFEE"}
PRICE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
INTEGER = re.compile(r"^[+-]?\d+(\.0*)?$")
CUSTOMER = re.compile(r"^\d+(\.0*)?$")
MILLI = Decimal("0.001")


def blank_trim(v):
    return v.strip(" \t") if isinstance(v, str) else v


def parse_local(texts):
    """Local date-times in any of the model's dialects; NaT where none applies."""
    out = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns]")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y"):
        missing = out.isna() & texts.notna()
        if missing.any():
            out[missing] = pd.to_datetime(texts[missing], format=fmt, errors="coerce")
    return out


def price_of(text):
    if not isinstance(text, str) or not PRICE.match(text):
        return None
    d = Decimal(text)
    if d != d.quantize(MILLI) or abs(d) >= Decimal(10) ** 9:
        return None
    return d.quantize(MILLI)


def quantity_of(text):
    if not isinstance(text, str) or not INTEGER.match(text):
        return None
    q = int(Decimal(text))
    return q if -2**31 <= q < 2**31 else None


def customer_of(text):
    if not isinstance(text, str) or text == "":
        return None
    return str(int(Decimal(text))) if CUSTOMER.match(text) else text


def money(d):
    return format(Decimal(d).quantize(MILLI), "f")


def silver(path):
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    uci = "InvoiceNo" in raw.columns
    names = (["InvoiceNo", "InvoiceDate", "StockCode", "Description", "UnitPrice", "Quantity", "CustomerID", "Country"]
             if uci else ["TransactionNo", "Date", "ProductNo", "ProductName", "Price", "Quantity", "CustomerNo",
                          "Country"])
    raw = raw[names]
    raw.columns = ["tx", "date", "product_no", "product_name", "price", "quantity", "customer", "country"]
    df = raw.apply(lambda col: col.map(blank_trim))
    df = df.replace({"": None})
    df["local_time"] = parse_local(df["date"])
    df["price_d"] = df["price"].map(price_of)
    df["qty"] = df["quantity"].map(quantity_of)
    df["customer_no"] = df["customer"].map(customer_of)
    df["country_c"] = df["country"].map(lambda c: ALIASES.get(c.upper(), c) if c is not None else None)
    keep = (df["tx"].notna() & df["product_no"].notna() & df["qty"].notna() & df["price_d"].notna()
            & df["country_c"].notna() & df["local_time"].notna())
    df = df[keep].copy()
    df = df[(df["qty"] != 0) & df["price_d"].map(lambda p: Decimal(0) <= p < Decimal(100000))].copy()
    df["qty"] = df["qty"].astype("int64")
    df["revenue"] = [p * q for p, q in zip(df["price_d"], df["qty"])]
    london = df["local_time"].dt.tz_localize("Europe/London", ambiguous="NaT", nonexistent="NaT")
    df["event_time"] = london.dt.tz_convert("UTC")
    df["order_date"] = df["local_time"].dt.date
    df["is_cancel_tx"] = df["tx"].str.upper().str.startswith("C")
    df["is_adjustment"] = df["product_no"].str.upper().isin(ADJUSTMENT_CODES) | df["tx"].str.startswith("A")
    df["sale"] = ~df["is_cancel_tx"] & ~df["is_adjustment"] & (df["qty"] > 0)
    df["cancel"] = df["is_cancel_tx"] & ~df["is_adjustment"]
    return df


def dsum(series):
    return sum(series, Decimal(0))


def sales_measures(g, with_orders=True):
    sale, cancel, adj = g[g["sale"]], g[g["cancel"]], g[g["is_adjustment"]]
    revenue, cancelled = dsum(sale["revenue"]), -dsum(cancel["revenue"])
    row = {
        "orders": sale["tx"].nunique(),
        "order_lines": len(sale),
        "units": int(sale["qty"].sum()),
        "revenue_gbp": revenue,
        "cancelled_orders": cancel["tx"].nunique(),
        "cancellation_lines": len(cancel),
        "cancelled_units": int(-cancel["qty"].sum()),
        "cancelled_revenue_gbp": cancelled,
        "net_revenue_gbp": revenue - cancelled,
        "adjustment_lines": len(adj),
        "adjustments_gbp": dsum(adj["revenue"]),
        "customers": sale["customer_no"].dropna().nunique(),
    }
    return row


def write(df, columns, path):
    out = df[columns].copy()
    for c in columns:
        if out[c].map(lambda v: isinstance(v, Decimal)).any():
            out[c] = out[c].map(lambda v: None if v is None else (format(v, "f")))
    out.to_csv(path, index=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    s = silver(args.input)
    rel = s[s["sale"] | s["cancel"] | s["is_adjustment"]]

    rows = []
    for (d, c), g in rel.groupby(["order_date", "country_c"], sort=False):
        r = sales_measures(g)
        r.update(order_date=d, country=c)
        r["revenue_gbp"] = r["revenue_gbp"].quantize(MILLI)
        aov = None
        if r["orders"] > 0:
            aov = (r["revenue_gbp"] / r["orders"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        r["avg_order_value_gbp"] = aov
        rows.append(r)
    daily = pd.DataFrame(rows)
    write(daily, ["order_date", "country", "orders", "order_lines", "units", "revenue_gbp", "cancelled_orders",
                  "cancellation_lines", "cancelled_units", "cancelled_revenue_gbp", "net_revenue_gbp",
                  "adjustment_lines", "adjustments_gbp", "customers", "avg_order_value_gbp"],
          os.path.join(args.out, "sales_daily.csv"))

    rows = []
    hour = rel["event_time"].dt.floor("H")
    for (h, c), g in rel.assign(event_hour=hour).groupby(["event_hour", "country_c"], sort=False):
        r = sales_measures(g)
        r.update(event_date=h.date(), event_hour=h.isoformat(), country=c)
        rows.append(r)
    hourly = pd.DataFrame(rows)
    write(hourly, ["event_date", "event_hour", "country", "orders", "order_lines", "units", "revenue_gbp",
                   "cancellation_lines", "cancelled_revenue_gbp", "net_revenue_gbp", "customers"],
          os.path.join(args.out, "sales_hourly.csv"))

    rows = []
    prod = s[s["sale"] | s["cancel"]]
    for p, g in prod.groupby("product_no", sort=False):
        r = sales_measures(g)
        named = g[g["product_name"].notna()].sort_values(["event_time", "product_name"], ascending=False)
        r["product_no"] = p
        r["product_name"] = named["product_name"].iloc[0] if len(named) else None
        r["cancellation_rate"] = repr(r["cancelled_units"] / r["units"]) if r["units"] > 0 else None
        sold = g[g["sale"]]["event_time"]
        r["first_sold_at"] = sold.min().isoformat() if len(sold) else None
        r["last_sold_at"] = sold.max().isoformat() if len(sold) else None
        rows.append(r)
    products = pd.DataFrame(rows)
    write(products, ["product_no", "product_name", "orders", "order_lines", "units", "revenue_gbp",
                     "cancellation_lines", "cancelled_units", "cancelled_revenue_gbp", "net_revenue_gbp",
                     "cancellation_rate", "first_sold_at", "last_sold_at"],
          os.path.join(args.out, "product_sales.csv"))

    rows = []
    for (d, c, p), g in prod.groupby(["order_date", "country_c", "product_no"], sort=False, dropna=False):
        if pd.isna(d) or pd.isna(p):
            continue
        r = sales_measures(g)
        named = g[g["product_name"].notna()].sort_values(["event_time", "product_name"], ascending=False)
        r.update(order_date=d, country=c, product_no=p)
        r["product_name"] = named["product_name"].iloc[0] if len(named) else None
        rows.append(r)
    write(pd.DataFrame(rows), ["order_date", "country", "product_no", "product_name", "orders", "units",
                               "revenue_gbp", "cancellation_lines", "cancelled_units", "cancelled_revenue_gbp",
                               "net_revenue_gbp"],
          os.path.join(args.out, "product_sales_daily.csv"))

    rows = []
    cust = s[s["customer_no"].notna() & ~s["is_adjustment"]]
    for cno, g in cust.groupby("customer_no", sort=False):
        sale = g[g["sale"]]
        if len(sale) == 0:
            continue
        latest = g.sort_values(["event_time", "country_c"], ascending=False)["country_c"].iloc[0]
        rows.append({"customer_no": cno, "country": latest, "first_order_date": sale["order_date"].min(),
                     "last_order_date": sale["order_date"].max(), "frequency": sale["tx"].nunique(),
                     "monetary_gbp": dsum(g[g["sale"] | g["cancel"]]["revenue"])})
    rfm = pd.DataFrame(rows)
    as_of = rfm["last_order_date"].max() + pd.Timedelta(days=1)
    rfm["as_of_date"] = as_of
    rfm["recency_days"] = rfm["last_order_date"].map(lambda d: (as_of - d).days)

    def ntile(order_cols, ascending):
        # SQL NTILE(5): rows in order; the first (n mod 5) buckets get one row more.
        ranked = rfm.sort_values(order_cols, ascending=ascending, kind="mergesort").index
        n = len(ranked)
        size, extra = divmod(n, 5)
        out, i = {}, 0
        for bucket in range(1, 6):
            take = size + (1 if bucket <= extra else 0)
            for idx in ranked[i:i + take]:
                out[idx] = bucket
            i += take
        return pd.Series(out)

    rfm["monetary_sort"] = rfm["monetary_gbp"].map(float)  # sort key only; ties broken by customer_no
    rfm["r_score"] = ntile(["recency_days", "customer_no"], [False, True])
    rfm["f_score"] = ntile(["frequency", "customer_no"], [True, True])
    rfm = rfm.sort_values(["monetary_gbp", "customer_no"], kind="mergesort")
    rfm["m_score"] = ntile(["monetary_gbp", "customer_no"], [True, True])
    rfm["rfm_score"] = rfm["r_score"].astype(str) + rfm["f_score"].astype(str) + rfm["m_score"].astype(str)

    def segment(r, f):
        if r >= 4 and f >= 4:
            return "Champions"
        if r >= 3 and f >= 3:
            return "Loyal"
        if r >= 4:
            return "New or promising"
        if r <= 2 and f >= 4:
            return "At risk"
        if r <= 2 and f <= 2:
            return "Hibernating"
        return "Needs attention"
    rfm["segment"] = [segment(r, f) for r, f in zip(rfm["r_score"], rfm["f_score"])]
    write(rfm, ["customer_no", "country", "first_order_date", "last_order_date", "recency_days", "frequency",
                "monetary_gbp", "r_score", "f_score", "m_score", "rfm_score", "segment", "as_of_date"],
          os.path.join(args.out, "customer_rfm.csv"))
    print(f"pandas recount: {len(s)} silver rows -> {len(daily)} daily, {len(hourly)} hourly, "
          f"{len(products)} products, {len(rfm)} customers in {args.out}")


if __name__ == "__main__":
    sys.exit(main())

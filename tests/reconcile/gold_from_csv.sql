-- An independent recount of the orders gold tables from the input CSV, in DuckDB SQL. It shares
-- no code with the pipeline: it reads the CSV with DuckDB's own reader and applies the rules of
-- docs/pipelines/orders.md (the defaults of pipelines/orders.toml) by itself.
--
-- The caller first creates the view recount_raw(transaction_no, date_text, product_no, product_name,
-- price_text, quantity_text, customer_text, country_text), one row per CSV data line, all VARCHAR
-- (tests/reconcile/reconcile_orders.cc maps either header dialect onto it), with TimeZone = 'UTC'.

-- Typed lines, as silver types them.
CREATE OR REPLACE TEMP VIEW recount_typed AS
SELECT
  nullif(trim(transaction_no, E' \t'), '') AS transaction_no,
  nullif(trim(product_no, E' \t'), '') AS product_no,
  nullif(trim(product_name, E' \t'), '') AS product_name,
  -- local time in the shop's zone, in any of the model's dialects
  coalesce(try_strptime(trim(date_text, E' \t'), '%Y-%m-%d %H:%M:%S'),
           try_strptime(trim(date_text, E' \t'), '%m/%d/%Y %H:%M'),
           try_strptime(trim(date_text, E' \t'), '%m/%d/%Y')) AS local_time,
  try_cast(trim(price_text, E' \t') AS DECIMAL(12,3)) AS unit_price_gbp,
  CASE WHEN regexp_full_match(trim(price_text, E' \t'), '-?[0-9]+(\.[0-9]{0,3}0*)?') THEN 1 ELSE 0 END AS price_scale_ok,
  try_cast(trim(quantity_text, E' \t') AS INTEGER) AS quantity,
  CASE WHEN nullif(trim(customer_text, E' \t'), '') IS NULL THEN NULL
       WHEN regexp_full_match(trim(customer_text, E' \t'), '[0-9]+(\.0*)?')
         THEN CAST(CAST(split_part(trim(customer_text, E' \t'), '.', 1) AS HUGEINT) AS VARCHAR)
       ELSE trim(customer_text, E' \t') END AS customer_no,
  CASE upper(trim(country_text, E' \t'))
    WHEN 'EIRE' THEN 'Ireland' WHEN 'RSA' THEN 'South Africa' WHEN 'USA' THEN 'United States'
    WHEN 'CZECH REPUBLIC' THEN 'Czechia' WHEN 'EUROPEAN COMMUNITY' THEN 'European Union'
    WHEN 'UNSPECIFIED' THEN 'Unknown' ELSE nullif(trim(country_text, E' \t'), '') END AS country
FROM recount_raw;

-- The silver rows: the lines no quarantine expectation rejects.
CREATE OR REPLACE TEMP VIEW recount_silver AS
SELECT transaction_no, product_no, product_name, country, customer_no, quantity,
       CASE WHEN price_scale_ok = 1 THEN unit_price_gbp END AS unit_price_gbp,
       (quantity * unit_price_gbp)::DECIMAL(18,3) AS line_revenue_gbp,
       timezone('Europe/London', local_time) AS event_time,
       local_time::DATE AS order_date,
       upper(transaction_no) LIKE 'C%' AS is_cancellation,
       (upper(product_no) IN ('POST', 'DOT', 'C2', 'M', 'D', 'S', 'B', 'CRUK', 'BANK CHARGES', 'AMAZONFEE')
        OR transaction_no LIKE 'A%') AS is_adjustment
FROM recount_typed
WHERE transaction_no IS NOT NULL AND product_no IS NOT NULL AND quantity IS NOT NULL
  AND price_scale_ok = 1 AND unit_price_gbp IS NOT NULL AND country IS NOT NULL   -- required_fields
  AND local_time IS NOT NULL                                                      -- date_parseable
  AND quantity <> 0                                                               -- quantity_non_zero
  AND unit_price_gbp >= 0                                                         -- price_non_negative
  AND unit_price_gbp < 100000;                                                    -- price_sane

CREATE OR REPLACE TEMP VIEW recount_classified AS
SELECT *, (NOT is_cancellation AND NOT is_adjustment AND quantity > 0) AS sale,
          (is_cancellation AND NOT is_adjustment) AS cancel
FROM recount_silver;

CREATE OR REPLACE TEMP VIEW recount_sales_daily AS
SELECT order_date, country,
  count(DISTINCT CASE WHEN sale THEN transaction_no END) AS orders,
  sum(CASE WHEN sale THEN 1 ELSE 0 END)::BIGINT AS order_lines,
  sum(CASE WHEN sale THEN quantity ELSE 0 END)::BIGINT AS units,
  sum(CASE WHEN sale THEN line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS revenue_gbp,
  count(DISTINCT CASE WHEN cancel THEN transaction_no END) AS cancelled_orders,
  sum(CASE WHEN cancel THEN 1 ELSE 0 END)::BIGINT AS cancellation_lines,
  sum(CASE WHEN cancel THEN -quantity ELSE 0 END)::BIGINT AS cancelled_units,
  sum(CASE WHEN cancel THEN -line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS cancelled_revenue_gbp,
  (sum(CASE WHEN sale THEN line_revenue_gbp ELSE 0 END) + sum(CASE WHEN cancel THEN line_revenue_gbp ELSE 0 END))::DECIMAL(18,3) AS net_revenue_gbp,
  sum(CASE WHEN is_adjustment THEN 1 ELSE 0 END)::BIGINT AS adjustment_lines,
  sum(CASE WHEN is_adjustment THEN line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS adjustments_gbp,
  count(DISTINCT CASE WHEN sale THEN customer_no END) AS customers,
  -- revenue / orders rounded half up to the penny: floor((m + 5 o) / 10 o) pence for m thousandths of a
  -- pound and o orders, in integers (DuckDB's "/" on decimals goes through DOUBLE, which rounds 605.555
  -- down to 605.55)
  CASE WHEN count(DISTINCT CASE WHEN sale THEN transaction_no END) > 0 THEN
    (((sum(CASE WHEN sale THEN line_revenue_gbp ELSE 0 END) * 1000)::HUGEINT
      + 5 * count(DISTINCT CASE WHEN sale THEN transaction_no END))
     // (10 * count(DISTINCT CASE WHEN sale THEN transaction_no END)) * 0.01::DECIMAL(3,2))::DECIMAL(18,2)
  END AS avg_order_value_gbp
FROM recount_classified WHERE sale OR cancel OR is_adjustment
GROUP BY order_date, country;

CREATE OR REPLACE TEMP VIEW recount_sales_hourly AS
SELECT date_trunc('hour', event_time)::DATE AS event_date, date_trunc('hour', event_time) AS event_hour, country,
  count(DISTINCT CASE WHEN sale THEN transaction_no END) AS orders,
  sum(CASE WHEN sale THEN 1 ELSE 0 END)::BIGINT AS order_lines,
  sum(CASE WHEN sale THEN quantity ELSE 0 END)::BIGINT AS units,
  sum(CASE WHEN sale THEN line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS revenue_gbp,
  sum(CASE WHEN cancel THEN 1 ELSE 0 END)::BIGINT AS cancellation_lines,
  sum(CASE WHEN cancel THEN -line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS cancelled_revenue_gbp,
  (sum(CASE WHEN sale THEN line_revenue_gbp ELSE 0 END) + sum(CASE WHEN cancel THEN line_revenue_gbp ELSE 0 END))::DECIMAL(18,3) AS net_revenue_gbp,
  count(DISTINCT CASE WHEN sale THEN customer_no END) AS customers
FROM recount_classified WHERE sale OR cancel OR is_adjustment
GROUP BY ALL;

CREATE OR REPLACE TEMP VIEW recount_product_sales AS
WITH latest_name AS (
  SELECT product_no, product_name,
         row_number() OVER (PARTITION BY product_no ORDER BY event_time DESC, product_name DESC) AS rn
  FROM recount_classified WHERE (sale OR cancel) AND product_name IS NOT NULL
), agg AS (
  SELECT product_no,
    count(DISTINCT CASE WHEN sale THEN transaction_no END) AS orders,
    sum(CASE WHEN sale THEN 1 ELSE 0 END)::BIGINT AS order_lines,
    sum(CASE WHEN sale THEN quantity ELSE 0 END)::BIGINT AS units,
    sum(CASE WHEN sale THEN line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS revenue_gbp,
    sum(CASE WHEN cancel THEN 1 ELSE 0 END)::BIGINT AS cancellation_lines,
    sum(CASE WHEN cancel THEN -quantity ELSE 0 END)::BIGINT AS cancelled_units,
    sum(CASE WHEN cancel THEN -line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS cancelled_revenue_gbp,
    min(CASE WHEN sale THEN event_time END) AS first_sold_at,
    max(CASE WHEN sale THEN event_time END) AS last_sold_at
  FROM recount_classified WHERE sale OR cancel GROUP BY product_no
)
SELECT a.product_no, n.product_name, orders, order_lines, units, revenue_gbp, cancellation_lines, cancelled_units,
  cancelled_revenue_gbp, (revenue_gbp - cancelled_revenue_gbp)::DECIMAL(18,3) AS net_revenue_gbp,
  CASE WHEN units > 0 THEN cancelled_units::DOUBLE / units END AS cancellation_rate, first_sold_at, last_sold_at
FROM agg a LEFT JOIN latest_name n ON n.product_no = a.product_no AND n.rn = 1;

CREATE OR REPLACE TEMP VIEW recount_product_sales_daily AS
WITH latest_name AS (
  SELECT order_date, country, product_no, product_name,
         row_number() OVER (PARTITION BY order_date, country, product_no
                            ORDER BY event_time DESC, product_name DESC) AS rn
  FROM recount_classified WHERE (sale OR cancel) AND product_name IS NOT NULL
), agg AS (
  SELECT order_date, country, product_no,
    count(DISTINCT CASE WHEN sale THEN transaction_no END) AS orders,
    sum(CASE WHEN sale THEN quantity ELSE 0 END)::BIGINT AS units,
    sum(CASE WHEN sale THEN line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS revenue_gbp,
    sum(CASE WHEN cancel THEN 1 ELSE 0 END)::BIGINT AS cancellation_lines,
    sum(CASE WHEN cancel THEN -quantity ELSE 0 END)::BIGINT AS cancelled_units,
    sum(CASE WHEN cancel THEN -line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS cancelled_revenue_gbp
  FROM recount_classified WHERE (sale OR cancel) AND order_date IS NOT NULL AND product_no IS NOT NULL
  GROUP BY order_date, country, product_no
)
SELECT a.order_date, a.country, a.product_no, n.product_name, orders, units, revenue_gbp, cancellation_lines,
  cancelled_units, cancelled_revenue_gbp, (revenue_gbp - cancelled_revenue_gbp)::DECIMAL(18,3) AS net_revenue_gbp
FROM agg a LEFT JOIN latest_name n ON n.order_date = a.order_date AND n.country IS NOT DISTINCT FROM a.country
  AND n.product_no = a.product_no AND n.rn = 1;

CREATE OR REPLACE TEMP VIEW recount_customer_rfm AS
WITH latest_country AS (
  SELECT customer_no, country,
         row_number() OVER (PARTITION BY customer_no ORDER BY event_time DESC, country DESC) AS rn
  FROM recount_classified WHERE customer_no IS NOT NULL AND NOT is_adjustment
), base AS (
  SELECT customer_no,
    min(CASE WHEN sale THEN order_date END) AS first_order_date,
    max(CASE WHEN sale THEN order_date END) AS last_order_date,
    count(DISTINCT CASE WHEN sale THEN transaction_no END) AS frequency,
    sum(CASE WHEN sale OR cancel THEN line_revenue_gbp ELSE 0 END)::DECIMAL(18,3) AS monetary_gbp
  FROM recount_classified WHERE customer_no IS NOT NULL AND NOT is_adjustment
  GROUP BY customer_no HAVING sum(CASE WHEN sale THEN 1 ELSE 0 END) > 0
), as_of AS (SELECT max(last_order_date) + 1 AS as_of_date FROM base),
scored AS (
  SELECT b.*, c.country, (a.as_of_date - b.last_order_date)::INTEGER AS recency_days, a.as_of_date
  FROM base b JOIN latest_country c ON c.customer_no = b.customer_no AND c.rn = 1 CROSS JOIN as_of a
), ranked AS (
  SELECT *,
    ntile(5) OVER (ORDER BY recency_days DESC, customer_no) AS r_score,
    ntile(5) OVER (ORDER BY frequency, customer_no) AS f_score,
    ntile(5) OVER (ORDER BY monetary_gbp, customer_no) AS m_score
  FROM scored
)
SELECT customer_no, country, first_order_date, last_order_date, recency_days, frequency, monetary_gbp,
  r_score::TINYINT AS r_score, f_score::TINYINT AS f_score, m_score::TINYINT AS m_score,
  concat(r_score, f_score, m_score) AS rfm_score,
  CASE WHEN r_score >= 4 AND f_score >= 4 THEN 'Champions'
       WHEN r_score >= 3 AND f_score >= 3 THEN 'Loyal'
       WHEN r_score >= 4 THEN 'New or promising'
       WHEN r_score <= 2 AND f_score >= 4 THEN 'At risk'
       WHEN r_score <= 2 AND f_score <= 2 THEN 'Hibernating'
       ELSE 'Needs attention' END AS segment,
  as_of_date
FROM ranked;

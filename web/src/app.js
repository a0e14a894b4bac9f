// lakestream dashboard: three pages (Orders, Notifications, Pipeline) over the JSON API
// (docs/api.md), updated live by the Server-Sent Events stream /api/v1/stream. Orders and
// notifications panels re-query the gold tables when their Delta version changes; pipeline panels
// draw the stream's samples. The page URL keeps the filters (and the customer and day).
import Chart from "chart.js/auto";

const money = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP", maximumFractionDigits: 0 });
const money2 = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP", minimumFractionDigits: 2 });
const int = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 });
const pct = new Intl.NumberFormat("en-GB", { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat("en-GB", { notation: "compact", maximumFractionDigits: 1 });
const $ = (id) => document.getElementById(id);

// What the panels show now, with the gold version they were read at (read by the browser test).
const state = { page: "orders", pipeline: "", filter: {}, kpis: null, days: null, products: null, countries: null, versions: {}, stream: null,
  notifications: { customer: "", date: "", panel: null, customers: null, bill: null, billDue: false } };
window.lakestreamDashboard = state;

function bytes(n) {
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}
function ms(v) { return v >= 10000 ? `${(v / 1000).toFixed(1)} s` : `${int.format(v)} ms`; }
function esc(s) { return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function when(iso) { return iso ? new Date(iso).toLocaleString("en-GB", { hour12: false }) : ""; }

async function api(path, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ""));
  const res = await fetch(`/api/v1/${path}${q.toString() ? "?" + q : ""}`, { credentials: "same-origin" });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message || `${res.status} ${res.statusText}`);
  return body;
}

// ---------- charts ----------
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.animation = false;
const palette = ["#0f4c81", "#2a9d8f", "#e76f51", "#ffb703", "#8338ec", "#6c757d"];
function lineChart(canvas, labels, opts = {}) {
  return new Chart($(canvas), {
    type: "line",
    data: { labels: [], datasets: labels.map((l, i) => ({ label: l, data: [], borderColor: palette[i], backgroundColor: palette[i] + "22", pointRadius: 0, borderWidth: 2, tension: 0.2, fill: labels.length === 1 })) },
    options: {
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { display: labels.length > 1, position: "bottom" }, tooltip: opts.tooltip },
      scales: { x: { ticks: { maxTicksLimit: 8, autoSkip: true } }, y: { beginAtZero: true, ticks: { callback: opts.y || ((v) => compact.format(v)) } } },
    },
  });
}
const charts = {};
function ensureCharts() {
  if (charts.days) return;
  charts.days = lineChart("chart-days", ["Revenue"], { y: (v) => "£" + compact.format(v), tooltip: { callbacks: { label: (c) => money.format(c.parsed.y) } } });
  charts.days.data.datasets[0].pointRadius = 2;
  charts.countries = new Chart($("chart-countries"), {
    type: "bar",
    data: { labels: [], datasets: [{ label: "Revenue", data: [], backgroundColor: palette[0] }] },
    options: { indexAxis: "y", plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => money.format(c.parsed.x) } } }, scales: { x: { ticks: { callback: (v) => "£" + compact.format(v) } }, y: { ticks: { autoSkip: false } } } },
  });
  charts.pulse = lineChart("chart-pulse", ["Orders/min"]);
  charts.minutes = new Chart($("chart-minutes"), {
    type: "bar",
    data: { labels: [], datasets: [{ label: "Notifications", data: [], backgroundColor: palette[1], borderWidth: 0, barPercentage: 1, categoryPercentage: 1 }] },
    options: { plugins: { legend: { display: false } }, scales: { x: { ticks: { maxTicksLimit: 12, autoSkip: true, maxRotation: 0 } }, y: { beginAtZero: true, ticks: { callback: (v) => compact.format(v) } } } },
  });
  charts.throughput = lineChart("chart-throughput", ["consumed", "bronze", "silver", "quarantine"]);
  charts.lag = lineChart("chart-lag", ["lag"]);
  charts.freshness = lineChart("chart-freshness", ["p50", "p99"], { y: (v) => int.format(v) });
}
function setSeries(chart, labels, ...series) {
  chart.data.labels = labels;
  series.forEach((s, i) => { chart.data.datasets[i].data = s; });
  chart.update();
}

// ---------- filters (kept in the URL) ----------
function readFilter() {
  const q = new URLSearchParams(location.search);
  return { from: q.get("from") || "", to: q.get("to") || "", country: q.get("country") || "" };
}
function writeFilter(f) {
  const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
  history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
}
function showFilter(f) {
  $("f-from").value = f.from; $("f-to").value = f.to;
  const sel = $("f-country");
  if (f.country && ![...sel.options].some((o) => o.value === f.country)) sel.add(new Option(f.country, f.country));
  sel.value = f.country;
}
function onFilterChange() {
  state.filter = { from: $("f-from").value, to: $("f-to").value, country: $("f-country").value };
  writeFilter(state.filter);
  loadOrders();
}

// ---------- orders page ----------
function flash(el, text) {
  if (el.textContent !== text && el.textContent !== "–") { el.classList.add("flash"); setTimeout(() => el.classList.remove("flash"), 700); }
  el.textContent = text;
}
// Runs `load` one at a time: a call while it runs makes it run once more afterwards (with the state
// then current), so a burst of stream events costs at most two reads.
function serialized(load) {
  let running = false, again = false;
  const run = async () => {
    if (running) { again = true; return; }
    running = true;
    try { await load(); } finally {
      running = false;
      if (again) { again = false; run(); }
    }
  };
  return run;
}
const loadOrders = serialized(async () => {
  const f = state.filter;
  try {
    const [k, d, p, c] = await Promise.all([
      api("orders/kpis", f), api("orders/revenue-by-day", f), api("orders/top-products", { ...f, limit: 10 }), api("orders/revenue-by-country", { ...f, limit: 15 }),
    ]);
    state.kpis = k; state.days = d; state.products = p; state.countries = c;
    flash($("kpi-revenue"), money.format(k.revenue_gbp));
    $("kpi-net").textContent = `net of cancellations ${money.format(k.net_revenue_gbp)}`;
    flash($("kpi-orders"), int.format(k.orders));
    flash($("kpi-units"), int.format(k.units));
    flash($("kpi-aov"), k.avg_order_value_gbp == null ? "–" : money2.format(k.avg_order_value_gbp));
    flash($("kpi-cancel"), k.cancellation_rate == null ? "–" : pct.format(k.cancellation_rate));
    for (const [id, key] of [["kpi-revenue", "revenue_gbp"], ["kpi-orders", "orders"], ["kpi-units", "units"]]) {
      $(id).dataset.value = k[key]; $(id).dataset.version = k.version;
    }
    $("f-from").min = $("f-to").min = k.first_date || ""; $("f-from").max = $("f-to").max = k.last_date || "";
    $("orders-note").textContent = k.first_date ? `gold v${k.version} · orders ${k.first_date} → ${k.last_date}` : "";
    setSeries(charts.days, d.days.map((x) => x.date), d.days.map((x) => x.revenue_gbp));
    setSeries(charts.countries, c.countries.map((x) => x.country), c.countries.map((x) => x.revenue_gbp));
    $("top-products").innerHTML = p.products.map((x) => `<tr><td>${esc(x.product_name || x.product_no)} <small>${esc(x.product_no)}</small></td><td class="num">${int.format(x.units)}</td><td class="num">${money.format(x.revenue_gbp)}</td></tr>`).join("")
      || `<tr><td colspan="3">No sales in this selection</td></tr>`;
  } catch (e) {
    $("orders-note").textContent = e.message;
  }
});
async function loadCountries() {
  try {
    const { countries } = await api("orders/countries");
    const sel = $("f-country"), keep = sel.value;
    for (const c of countries) if (![...sel.options].some((o) => o.value === c)) sel.add(new Option(c, c));
    sel.value = keep;
  } catch { /* no gold yet: retried on the next gold version */ }
}

// ---------- notifications page (docs/pipelines/notifications.md) ----------
const brl = new Intl.NumberFormat("pt-BR", { style: "currency", currency: "BRL" });
const intBr = new Intl.NumberFormat("pt-BR", { maximumFractionDigits: 0 });
function readNotifications() {
  const q = new URLSearchParams(location.search);
  return { customer: q.get("customer") || "", date: q.get("date") || "" };
}
function writeNotifications() {
  const n = state.notifications;
  const q = new URLSearchParams(Object.entries({ customer: n.customer, date: n.date }).filter(([, v]) => v));
  history.replaceState(null, "", location.pathname + (q.toString() ? "?" + q : ""));
}
function reportLinks() {
  const n = state.notifications, p = n.panel;
  const date = p?.date || n.date, who = p?.customer_id || n.customer;
  for (const [id, path, params] of [
    ["r-csv", "notifications/report", { customer: who, from: date, to: date, format: "csv" }],
    ["r-json", "notifications/report", { customer: who, from: date, to: date, format: "json" }],
    ["r-text", "notifications/report", { customer: who, from: date, to: date, format: "text" }],
    ["b-csv", "notifications/billing", { date, format: "csv" }],
    ["b-json", "notifications/billing", { date, format: "json" }],
    ["b-text", "notifications/billing", { date, format: "text" }],
  ]) {
    const el = $(id);
    if (date && who) el.href = `/api/v1/${path}?${new URLSearchParams(params)}`;
    else el.removeAttribute("href");
  }
}
let billAt = 0;
// The bill is re-read when state.notifications.billDue (a new customer or day) or every 5 s.
const loadNotifications = serialized(async () => {
  const n = state.notifications;
  try {
    const customers = await api("notifications/customers", { date: n.date, limit: 100 });
    n.customers = customers;
    if (!n.customer && customers.customers.length) n.customer = customers.customers[0].customer_id;
    const sel = $("n-customer");
    const options = customers.customers.map((c) => [c.customer_id, `${c.customer_name || c.customer_id} (${c.customer_id})`]);
    if (n.customer && !options.some(([v]) => v === n.customer)) options.unshift([n.customer, n.customer]);
    if (sel.options.length !== options.length || options.some(([v, t], i) => sel.options[i].value !== v || sel.options[i].text !== t)) {
      sel.replaceChildren(...options.map(([v, t]) => new Option(t, v)));
    }
    sel.value = n.customer;
    $("n-top-note").textContent = `${customers.date} · ${customers.channel}`;
    $("n-top").innerHTML = customers.customers.slice(0, 10).map((c) => `<tr class="pick${c.customer_id === n.customer ? " active" : ""}" data-customer="${esc(c.customer_id)}"><td>${esc(c.customer_name || c.customer_id)} <small>${esc(c.customer_id)}</small></td><td class="num">${intBr.format(c.notifications)}</td></tr>`).join("")
      || `<tr><td colspan="2">No notifications on this day</td></tr>`;
    if (!n.customer) { $("n-note").textContent = "no customers yet"; return; }
    const p = await api("notifications/panel", { customer: n.customer, date: n.date });
    n.panel = p;
    const dsel = $("n-date");
    const dates = ["", ...p.dates.slice().reverse()];
    if (dsel.options.length !== dates.length) dsel.replaceChildren(...dates.map((d) => new Option(d || `Newest (${p.dates.at(-1) || "–"})`, d)));
    dsel.value = n.date;
    $("n-name").textContent = p.customer_name || p.customer_id || n.customer;
    $("n-channel").textContent = p.channel;
    flash($("n-count"), String(p.notifications));  // plain digits, as in the panel's text form
    $("n-count").dataset.value = p.notifications; $("n-count").dataset.version = p.version;
    $("n-last").textContent = p.last_update || "–";
    $("n-note").textContent = `gold v${p.version} · ${p.date}`;
    // Every minute from the first to the newest with messages, so the axis is time (minutes without
    // messages are 0).
    const counts = new Map(p.minutes.map((m) => [m.minute.slice(11, 16), m.notifications]));
    const minuteOf = (m) => Number(m.minute.slice(11, 13)) * 60 + Number(m.minute.slice(14, 16));
    const firstMinute = p.minutes.length ? minuteOf(p.minutes[0]) : 0, lastMinute = p.minutes.length ? minuteOf(p.minutes.at(-1)) : -1;
    const labels = Array.from({ length: lastMinute - firstMinute + 1 }, (_, i) => {
      const m = firstMinute + i;
      return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    });
    setSeries(charts.minutes, labels, labels.map((l) => counts.get(l) || 0));
    reportLinks();
    if (n.billDue || Date.now() - billAt > 5000) { n.billDue = false; billAt = Date.now(); loadBill(); }
  } catch (e) {
    $("n-note").textContent = e.message;
  }
});
async function loadBill() {
  const n = state.notifications, p = n.panel;
  if (!p?.customer_id) { $("n-bill").textContent = "–"; $("n-bill-note").textContent = ""; return; }
  try {
    const rows = await api("notifications/billing", { date: p.date, customer: p.customer_id, format: "json" });
    n.bill = rows;
    const bill = rows.find((r) => r.kind === "bill");
    const adjustments = rows.filter((r) => r.kind === "adjustment");
    $("n-bill").textContent = bill ? brl.format(bill.amount_brl) : "–";
    $("n-bill-note").textContent = bill
      ? `${intBr.format(bill.notifications)} × ${brl.format(bill.price_brl)} · ${bill.is_final ? "final" : "provisório (dia aberto)"}` +
        (adjustments.length ? ` · ${adjustments.length} ajuste(s)` : "")
      : "sem cobrança neste dia";
  } catch (e) { $("n-bill-note").textContent = e.message; }
}
function onNotificationsChange() {
  state.notifications.customer = $("n-customer").value;
  state.notifications.date = $("n-date").value;
  writeNotifications();
  state.notifications.billDue = true;
  loadNotifications();
}

// ---------- pipeline page ----------
// One point per second per pipeline: rows/s per layer, lag, freshness and the pulse (the API's history shape).
const histories = {};
const historyOf = (name) => (histories[name] ??= []);
function onPipelinePoint(p, t) {
  const h = historyOf(p.name);
  if (h.length && h[h.length - 1].t >= t) return;
  h.push({ t, consumed: p.rates.consumed_per_s, bronze: p.rates.bronze_per_s, silver: p.rates.silver_per_s,
    quarantine: p.rates.quarantine_per_s, lag: p.lag.total, freshness_p50_ms: p.freshness_ms.p50,
    freshness_p99_ms: p.freshness_ms.p99, keys_per_minute: p.keys_per_minute });
  while (h.length > 600) h.shift();
}
// The pipeline the page shows: the one picked, else the data page's own (the orders pulse is the
// orders pipeline's), else the first.
function currentPipeline(list) {
  if (!list?.length) return undefined;
  const wanted = state.pipeline || state.lastData;
  return list.find((p) => p.name === wanted) || list[0];
}
function showPipelinePicker(list) {
  const names = (list || []).map((p) => p.name);
  $("p-pick").hidden = names.length < 2;
  const select = $("p-name");
  if ([...select.options].map((o) => o.value).join() !== names.join()) {
    select.innerHTML = names.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join("");
  }
  const current = currentPipeline(list);
  if (current) select.value = current.name;
}
async function loadHistory() {
  try {
    const { pipelines } = await api("pipelines");
    showPipelinePicker(pipelines);
    const current = currentPipeline(pipelines);
    if (!current) return;
    const h = await api(`pipelines/${encodeURIComponent(current.name)}`);
    const points = historyOf(h.name);
    const newer = points.filter((x) => x.t > (h.history.at(-1)?.t ?? 0));
    points.splice(0, points.length, ...h.history, ...newer);
    drawPipeline(h);
  } catch { /* the stream fills it */ }
}
function drawPipeline(p) {
  if (!p) return;
  $("p-state").textContent = p.state + (p.detail ? `: ${p.detail}` : "");
  $("p-uptime").textContent = `${p.command} · up ${Math.round(p.uptime_s)} s · topic ${p.topic}`;
  $("p-rate").textContent = int.format(p.rates.bronze_per_s);
  $("p-lag").textContent = int.format(p.lag.total);
  $("p-p50").textContent = p.freshness_ms.samples ? ms(p.freshness_ms.p50) : "–";
  $("p-p99").textContent = p.freshness_ms.samples ? ms(p.freshness_ms.p99) : "–";
  $("p-samples").textContent = `${int.format(p.freshness_ms.samples)} records`;
  const points = historyOf(p.name);
  const labels = points.map((h) => new Date(h.t).toLocaleTimeString("en-GB", { hour12: false }));
  if (state.page === "pipeline") {
    setSeries(charts.throughput, labels, points.map((h) => h.consumed), points.map((h) => h.bronze), points.map((h) => h.silver), points.map((h) => h.quarantine));
    setSeries(charts.lag, labels, points.map((h) => h.lag));
    setSeries(charts.freshness, labels, points.map((h) => h.freshness_p50_ms), points.map((h) => h.freshness_p99_ms));
  } else {
    setSeries(charts.pulse, labels, points.map((h) => h.keys_per_minute));
  }
}
async function loadTables() {
  try {
    const { tables } = await api("tables");
    $("tables").innerHTML = tables.map((t) => `<tr><td>${esc(t.name)}</td><td class="num">${t.version}</td><td class="num">${int.format(t.files)}</td><td class="num">${int.format(t.rows)}</td><td class="num">${bytes(t.size_bytes)}</td><td>${t.last_commit ? `${esc(t.last_commit.operation)} · ${when(t.last_commit.timestamp)}` : ""}</td></tr>`).join("");
  } catch (e) { $("tables").innerHTML = `<tr><td colspan="6">${esc(e.message)}</td></tr>`; }
}
async function loadQuarantine() {
  try {
    const q = await api("quarantine", { limit: 10 });
    $("q-total").textContent = `${int.format(q.total)} records`;
    $("q-rules").innerHTML = q.by_rule.map((r) => `<span class="chip">${esc(r.rule)}: ${int.format(r.records)}</span>`).join("") || `<span class="note">Nothing quarantined.</span>`;
    $("q-records").innerHTML = q.records.map((r) => `<tr><td>${when(r.quarantined_at)}</td><td>${esc(r.failed_rules)}</td><td>${esc(r.reason)}</td><td class="payload">${esc(r.payload ?? r.payload_base64)}</td></tr>`).join("");
  } catch (e) { $("q-records").innerHTML = `<tr><td colspan="4">${esc(e.message)}</td></tr>`; }
}

// ---------- live stream ----------
function connect() {
  const live = $("live");
  const es = new EventSource("/api/v1/stream");
  es.addEventListener("status", (ev) => {
    const s = JSON.parse(ev.data);
    state.stream = s;
    live.className = "live on";
    $("live-text").textContent = `live · ${new Date(s.t).toLocaleTimeString("en-GB", { hour12: false })}`;
    for (const p of s.pipelines) onPipelinePoint(p, s.t);
    showPipelinePicker(s.pipelines);
    drawPipeline(currentPipeline(s.pipelines));
    const v = s.tables || {};
    const changed = (name) => v[name] !== undefined && v[name] !== state.versions[name];
    if (state.page === "orders" && (changed("gold/sales_daily") || changed("gold/product_sales_daily"))) {
      if (changed("gold/sales_daily")) loadCountries();
      loadOrders();
    }
    if (state.page === "notifications" && changed("gold/notification_usage_minute")) loadNotifications();
    showNav(v);
    if (state.page === "pipeline") {
      if (Object.keys(v).some(changed)) loadTables();
      if (Object.keys(v).some((t) => t.endsWith("_quarantine") && changed(t))) loadQuarantine();
    }
    state.versions = { ...v };
  });
  es.onerror = () => { live.className = "live off"; $("live-text").textContent = "reconnecting…"; };
}

// ---------- pages ----------
const titles = { orders: "lakestream — live orders", notifications: "lakestream — notifications", pipeline: "lakestream — pipeline" };
const footers = {
  orders: "Orders from the Online Retail dataset (UCI), replayed through Kafka into Delta Lake. Money in GBP.",
  notifications: "WhatsApp-notification usage per customer from Kafka into Delta Lake; counts in event time (UTC), money in BRL.",
};
// A page's link shows when its gold tables exist (or when nothing exists yet, for Orders).
function showNav(tables) {
  const has = (t) => tables[t] !== undefined && tables[t] >= 0;
  const notifications = has("gold/notification_usage_minute");
  document.querySelector("a[data-page=notifications]").hidden = !notifications && state.page !== "notifications";
  document.querySelector("a[data-page=orders]").hidden = notifications && !has("gold/sales_daily") && state.page !== "orders";
}
function show(page) {
  state.page = page;
  for (const el of document.querySelectorAll(".page")) el.hidden = el.id !== `page-${page}`;
  for (const a of document.querySelectorAll(".nav-link")) a.classList.toggle("active", a.dataset.page === page);
  document.title = titles[page];
  $("footer").textContent = footers[page] || footers[state.lastData] || "";
  if (page !== "pipeline") state.lastData = page;
  state.versions = {};  // reload the page's panels on the next event
  if (page === "orders") { loadCountries(); loadOrders(); }
  else if (page === "notifications") { Object.assign(state.notifications, readNotifications(), { billDue: true }); loadNotifications(); }
  else { loadTables(); loadQuarantine(); }
  drawPipeline(currentPipeline(state.stream?.pipelines));
}
// "/" shows Orders, or Notifications when this lakehouse holds only the notifications pipeline.
async function route() {
  if (location.pathname === "/pipeline") return show("pipeline");
  if (location.pathname === "/notifications") return show("notifications");
  try {
    const { tables } = await api("tables");
    const names = tables.map((t) => t.name);
    if (names.includes("gold/notification_usage_minute") && !names.includes("gold/sales_daily")) {
      history.replaceState(null, "", "/notifications" + location.search);
      return show("notifications");
    }
  } catch { /* no tables yet */ }
  show("orders");
}

document.addEventListener("DOMContentLoaded", () => {
  ensureCharts();
  state.filter = readFilter();
  showFilter(state.filter);
  for (const id of ["f-from", "f-to", "f-country"]) $(id).addEventListener("change", onFilterChange);
  for (const id of ["n-customer", "n-date"]) $(id).addEventListener("change", onNotificationsChange);
  $("n-top").addEventListener("click", (e) => {
    const row = e.target.closest("tr[data-customer]");
    if (row) { $("n-customer").value = row.dataset.customer; onNotificationsChange(); }
  });
  $("p-name").addEventListener("change", () => { state.pipeline = $("p-name").value; loadHistory(); });
  $("f-clear").addEventListener("click", () => { showFilter({ from: "", to: "", country: "" }); onFilterChange(); });
  for (const a of document.querySelectorAll(".nav-link")) {
    a.addEventListener("click", (e) => {
      e.preventDefault();
      history.pushState(null, "", a.getAttribute("href") + location.search);
      route();
    });
  }
  window.addEventListener("popstate", route);
  route();
  loadHistory();
  connect();
});

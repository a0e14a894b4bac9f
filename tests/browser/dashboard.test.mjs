// Browser test of the dashboard (issues #5 and #6), during real runs, Debian's chromium driven by
// playwright-core. Three phases:
//   1. orders: `lakestream run` on the Online Retail data at 3,000 events/s (the first weeks of the
//      year reach the lake while the test runs);
//   2. notifications: `lakestream run --pipeline pipelines/notifications.toml` with its generator at
//      2,000 events/s;
//   3. both pipelines in one process (`--pipeline pipelines/orders.toml,pipelines/notifications.toml`).
//
//   node tests/browser/dashboard.test.mjs LAKESTREAM_BINARY ARTIFACT_DIR
//
// Checks, orders: the dashboard loads; the KPIs grow without a reload; a country filter changes every
// panel to that country's figures, equal to the API's for the same gold version; the URL keeps the
// filter; the pipeline page shows the tables. Notifications: "/" opens the notifications page; the
// customer picker lists the largest customers, Acme first; the panel ("Painel de Notificações") equals
// the API's for the same gold version and grows without a reload; the per-minute chart has the
// minutes; picking another customer changes the panel and the address; the detailed-report link
// streams that customer's CSV. Both: the pipeline page's picker lists both pipelines and shows the
// one picked; the nav offers both data pages. Saves a screenshot of each page (and the phone layouts) to
// ARTIFACT_DIR. Exit code 0 when every check passes.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const binary = process.argv[2] || join(root, "build/release/lakestream");
const artifacts = resolve(process.argv[3] || join(root, "build/test-artifacts"));
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
mkdirSync(artifacts, { recursive: true });
const lake = mkdtempSync(join(tmpdir(), "lakestream-browser-"));

const step = (msg) => console.log(`[browser] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let lastDifference = null;  // the last mismatch same() saw, reported when until() times out
function same(a, b) {
  try { assert.deepEqual(a, b); return true; } catch (e) { lastDifference = e.message; return false; }
}
async function until(what, fn, timeoutMs = 60000) {
  const t0 = Date.now();
  lastDifference = null;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastDifference ? `; last difference:\n${lastDifference}` : ""}`);
    }
    await sleep(250);
  }
}

// Starts `lakestream ARGS…` serving on a free loopback port; `address()` waits for its dashboard
// address on stdout; `stop()` sends SIGTERM and throws unless it exits 0.
function startLakestream(label, args) {
  const child = spawn(binary, [...args, "--http", "127.0.0.1:0", "--progress-interval-ms", "5000"],
    { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  const exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  let stopped = null;
  return {
    address: () => until(`the ${label} dashboard address`, () => out.match(/dashboard: (http:\/\/\S+\/)/)?.[1], 60000),
    stop: () => (stopped ??= (async () => {
      child.kill("SIGTERM");
      const { code, signal } = await exited;
      if (code !== 0) throw new Error(`lakestream (${label}) exited with ${code ?? signal}\n${out.slice(-2000)}`);
    })()),
  };
}

// The replay: the full year at 3,000 events/s (stopped when the test ends), gold refreshed every second.
const run = startLakestream("orders", [
  "run", "--lakehouse", lake, "--input", join(root, "data/online-shop/online_retail.combined-305-by-day-files.FULL-541909-rows.csv.gz"),
  "--rate", "3000", "--gold-interval-ms", "1000", "--commit-interval-ms", "500", "--follow",
]);

// Phase 2: the notifications pipeline from its file, its generator at 2,000 events/s (simulated time
// from 2020-02-03 12:00 UTC at 100M messages a day, so the day does not change during the test).
const notificationsLake = mkdtempSync(join(tmpdir(), "lakestream-browser-notifications-"));
async function notificationsPhase(browser) {
  const nrun = startLakestream("notifications", [
    "run", "--pipeline", join(root, "pipelines/notifications.toml"), "--lakehouse", notificationsLake, "--rate", "2000",
    "--start", "2020-02-03T12:00:00Z", "--gold-interval-ms", "1000", "--commit-interval-ms", "500",
  ]);
  try {
    const base = await nrun.address();
    step(`notifications: lakestream serves ${base}`);
    const get = async (path) => { const r = await fetch(new URL(path, base)); assert.equal(r.status, 200, `${path}: ${r.status}`); return r; };
    await until("gold/notification_usage_minute", async () => {
      const { tables } = await (await get("api/v1/tables")).json();
      return tables.some((t) => t.name === "gold/notification_usage_minute" && t.rows > 0);
    });
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 }, deviceScaleFactor: 1 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    let loads = 0;  // full page loads (the address changes by history.replaceState, not by loading)
    page.on("load", () => { loads++; });

    // 1. "/" opens the notifications page when the lakehouse holds only that pipeline.
    await page.goto(base);
    await until("the notifications page", async () => new URL(page.url()).pathname === "/notifications");
    assert.equal(await page.title(), "lakestream — notifications");
    const countOf = () => page.$eval("[data-testid=panel-count]", (e) => Number(e.dataset.value || 0));
    const first = await until("a first panel count", async () => (await countOf()) > 0 && (await countOf()));

    // 2. The picker lists the day's largest customers, Acme (the generator's largest) first and selected.
    const options = await page.$$eval("[data-testid=customer-picker] option", (os) => os.map((o) => [o.value, o.textContent]));
    assert.ok(options.length >= 10, `the picker lists customers (${options.length})`);
    assert.deepEqual(options[0], ["7494212", "Acme (7494212)"]);
    assert.equal(await page.inputValue("[data-testid=customer-picker]"), "7494212");

    // 3. The panel equals the API's at the same gold version, in the issue's layout.
    const panelMatches = async (customer) => until(`the panel of ${customer} to match the API`, async () => {
      const s = await page.evaluate(() => JSON.parse(JSON.stringify(window.lakestreamDashboard.notifications)));
      if (!s.panel || s.panel.customer_id !== customer) return false;
      const api = await (await get(`api/v1/notifications/panel?customer=${customer}`)).json();
      if (api.version !== s.panel.version) return false;  // gold moved between the two reads
      if (!same(s.panel, api)) return false;
      const text = await (await get(`api/v1/notifications/panel?customer=${customer}&format=text`)).text();
      const shown = await page.$eval("[data-testid=notification-panel]", (e) =>
        `Painel de Notificações\nCliente: ${e.querySelector("#n-name").textContent}\nNotificações ${e.querySelector("#n-channel").textContent}: ` +
        `${e.querySelector("#n-count").textContent}\nÚltima atualização: ${e.querySelector("#n-last").textContent}\n`);
      if (shown !== text) return false;  // the API moved on after the page's read: read again
      assert.ok(api.minutes.length > 0 && api.minutes.reduce((a, m) => a + m.notifications, 0) === api.notifications,
        "the per-minute counts add up to the day's count");
      return api;
    }, 30000);
    const acme = await panelMatches("7494212");
    assert.equal(acme.customer_name, "Acme");
    step(`notifications: Acme ${acme.notifications} on ${acme.date} at gold v${acme.version}, last update ${acme.last_update}`);
    const bars = await page.evaluate(() => window.lakestreamDashboard.notifications.panel.minutes.length);
    assert.ok(bars > 0, "the per-minute chart has minutes");

    // 4. The count grows live, without a reload.
    const later = await until("the panel count to grow", async () => { const v = await countOf(); return v > first && v; }, 60000);
    assert.equal(loads, 1, "the page must not reload");
    step(`notifications: Acme's count grew ${first} -> ${later} without a reload`);

    // 5. Another customer: the panel and the address follow.
    const other = options[1][0];
    await page.selectOption("[data-testid=customer-picker]", other);
    await until("the address to keep the customer", async () => new URL(page.url()).searchParams.get("customer") === other);
    const otherPanel = await panelMatches(other);
    assert.equal(await page.textContent("[data-testid=panel-customer]"), otherPanel.customer_name);

    // 6. The detailed-report link streams that customer's messages of the day as CSV.
    const href = await page.getAttribute("[data-testid=report-csv]", "href");
    const csv = await (await get(href.replace(/^\//, ""))).text();
    const lines = csv.trimEnd().split("\n");
    assert.equal(lines[0], "customer_id,customer_name,message_id,channel,event_datetime,payload");
    assert.ok(lines.length > 1, "the report has messages");
    assert.ok(lines.slice(1).every((l) => l.startsWith(`${other},`)), "every line is the chosen customer's");
    await sleep(1500);
    await page.screenshot({ path: join(artifacts, "dashboard-notifications.png"), fullPage: true });

    // 7. The phone layout.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
    await phone.goto(new URL("notifications", base).toString());
    await until("the panel on the phone", async () => Number(await phone.$eval("[data-testid=panel-count]", (e) => e.dataset.value || 0)) > 0);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
    await sleep(1000);
    await phone.screenshot({ path: join(artifacts, "dashboard-notifications-phone.png"), fullPage: true });
    assert.deepEqual(errors, [], "no JavaScript errors");
    step("notifications: PASS");
  } finally {
    await nrun.stop();
  }
}

// Phase 3: both pipelines in one process (docs/pipelines/README.md, "Several pipelines in one
// process"): the nav offers both data pages and the pipeline page picks which pipeline it shows.
const bothLake = mkdtempSync(join(tmpdir(), "lakestream-browser-both-"));
async function severalPipelinesPhase(browser) {
  const both = startLakestream("orders and notifications", [
    "run", "--pipeline", `${join(root, "pipelines/orders.toml")},${join(root, "pipelines/notifications.toml")}`,
    "--lakehouse", bothLake, "--input", join(root, "data/online-shop/sales_transaction_v4a.PARTIAL-first-1305-rows.csv.gz"),
    "--limit", "20000", "--rate", "2000", "--start", "2020-02-03T12:00:00Z", "--gold-interval-ms", "1000", "--follow",
  ]);
  try {
    const base = await both.address();
    step(`both: lakestream serves ${base}`);
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 }, deviceScaleFactor: 1 });
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(new URL("pipeline", base).toString());
    const names = await until("the pipeline picker with both pipelines", async () => {
      const os = await page.$$eval("[data-testid=pipeline-name] option", (xs) => xs.map((o) => o.value));
      return os.length === 2 && os;
    });
    assert.deepEqual(names, ["orders", "notifications"]);
    assert.ok(await page.isVisible("[data-testid=pipeline-name]"), "the picker shows with two pipelines");
    await page.selectOption("[data-testid=pipeline-name]", "notifications");
    await until("the notifications pipeline's state", async () => /topic notifications/.test(await page.textContent("#p-uptime")));
    await sleep(2500);  // several stream events later the pick still holds
    assert.match(await page.textContent("#p-uptime"), /topic notifications/);
    await until("both data pages in the nav", async () =>
      !(await page.$eval("a[data-page=orders]", (a) => a.hidden)) && !(await page.$eval("a[data-page=notifications]", (a) => a.hidden)));
    await page.screenshot({ path: join(artifacts, "dashboard-pipeline-several.png"), fullPage: true });
    assert.deepEqual(errors, [], "no JavaScript errors");
    step("both: PASS");
  } finally {
    await both.stop();
  }
}

let browser;
try {
  const base = await run.address();
  step(`lakestream serves ${base}`);
  const getJson = async (path) => (await fetch(new URL(path, base))).json();

  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu"] });
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 }, deviceScaleFactor: 1 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  let navigations = 0;
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations++; });

  // 1. The dashboard loads and shows KPIs from gold.
  await page.goto(base);
  assert.equal(await page.title(), "lakestream — live orders");
  const ordersOf = () => page.$eval("[data-testid=kpi-orders]", (e) => Number(e.dataset.value || 0));
  const first = await until("a first orders KPI", async () => (await ordersOf()) > 0 && (await ordersOf()));
  step(`orders KPI shows ${first}`);

  // 2. The KPIs grow live, without a reload.
  const later = await until("the orders KPI to grow", async () => { const v = await ordersOf(); return v > first && v; }, 60000);
  assert.equal(navigations, 1, "the page must not reload");
  step(`orders KPI grew to ${later} without a reload`);
  const liveText = await page.textContent("[data-testid=live]");
  assert.match(liveText, /live/);

  // 3. A country filter: every panel shows that country's figures, as the API gives them.
  const countries = await until("countries in the filter", async () => {
    const opts = await page.$$eval("[data-testid=country-filter] option", (os) => os.map((o) => o.value).filter(Boolean));
    return opts.length >= 3 && opts;
  });
  const country = countries.includes("France") ? "France" : countries.find((c) => c !== "United Kingdom");
  await page.selectOption("[data-testid=country-filter]", country);
  await until("the URL to keep the filter", async () => new URL(page.url()).searchParams.get("country") === country);
  const q = `country=${encodeURIComponent(country)}`;
  const matched = await until(`the panels to match the API for ${country}`, async () => {
    const s = await page.evaluate(() => JSON.parse(JSON.stringify(window.lakestreamDashboard)));
    if (!s.kpis || s.kpis.filter.country !== country) return false;
    const [k, top, byCountry, byDay] = await Promise.all([
      getJson(`api/v1/orders/kpis?${q}`), getJson(`api/v1/orders/top-products?${q}&limit=10`),
      getJson(`api/v1/orders/revenue-by-country?${q}&limit=15`), getJson(`api/v1/orders/revenue-by-day?${q}`),
    ]);
    if (k.version !== s.kpis.version) return false;  // gold moved between the two reads: read again
    // The product table commits separately from sales_daily: a mismatch read between two of its
    // commits is read again (until() fails with the last difference when it never settles).
    if (![[s.kpis, k], [s.products, top], [s.countries, byCountry], [s.days, byDay]].every(([a, b]) => same(a, b))) return false;
    assert.deepEqual(byCountry.countries.map((c) => c.country), [country]);
    const all = await getJson("api/v1/orders/kpis");
    assert.ok(k.orders < all.orders, `${country}'s orders (${k.orders}) are fewer than all orders (${all.orders})`);
    const shown = await page.$eval("[data-testid=kpi-orders]", (e) => Number(e.dataset.value));
    assert.equal(shown, k.orders);
    const rows = await page.$$eval("[data-testid=top-products] tbody tr", (rs) => rs.length);
    assert.equal(rows, Math.max(1, top.products.length));
    return k;
  }, 30000);
  step(`${country}: ${matched.orders} orders, £${matched.revenue_gbp} at gold v${matched.version}, as the API says`);
  await sleep(1500);  // let the charts settle for the screenshot
  await page.screenshot({ path: join(artifacts, "dashboard-orders-filtered.png"), fullPage: true });

  // The URL keeps the filter across a reload.
  await page.reload();
  await until("the filter restored from the URL", async () => (await page.inputValue("[data-testid=country-filter]")) === country);

  // Unfiltered, for the README.
  await page.goto(base);
  await until("KPIs", async () => (await ordersOf()) > 0);
  await sleep(2500);
  await page.screenshot({ path: join(artifacts, "dashboard-orders.png"), fullPage: true });

  // 4. The pipeline page: state, commits per table, quarantine.
  await page.click("a[data-page=pipeline]");
  assert.equal(new URL(page.url()).pathname, "/pipeline");
  await until("the tables list", async () => (await page.$$("[data-testid=tables] tbody tr")).length >= 5);
  const tableNames = await page.$$eval("[data-testid=tables] tbody tr td:first-child", (tds) => tds.map((t) => t.textContent));
  for (const t of ["bronze/orders", "silver/orders", "gold/sales_daily"]) assert.ok(tableNames.includes(t), `${t} listed`);
  await until("the pipeline state", async () => /running|idle/.test(await page.textContent("[data-testid=pipeline-state]")));
  await sleep(3000);
  await page.screenshot({ path: join(artifacts, "dashboard-pipeline.png"), fullPage: true });

  // 5. The phone layout.
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
  await phone.goto(base);
  await until("KPIs on the phone", async () => Number(await phone.$eval("[data-testid=kpi-orders]", (e) => e.dataset.value || 0)) > 0);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
  await sleep(1500);
  await phone.screenshot({ path: join(artifacts, "dashboard-orders-phone.png"), fullPage: true });

  assert.deepEqual(errors, [], "no JavaScript errors");
  step("orders: PASS");
  await run.stop();
  await page.close();
  await phone.close();
  await notificationsPhase(browser);
  await severalPipelinesPhase(browser);
  step(`screenshots in ${artifacts}`);
  step("PASS");
} catch (e) {
  console.error(`[browser] FAIL: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  if (browser) await browser.close();
  try { await run.stop(); } catch (e) { console.error(`[browser] ${e.message}`); process.exitCode = 1; }
  for (const dir of [lake, notificationsLake, bothLake]) rmSync(dir, { recursive: true, force: true });
}

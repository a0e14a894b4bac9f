#!/usr/bin/env python3
"""Freshness of the notifications panel (docs/benchmarks.md, "Notifications").

Polls GET /api/v1/notifications/panel?customer=C of a running `lakestream run --pipeline
pipelines/notifications.toml` whose generator stamps events with the wall clock (no --start), and
reports, per poll, how old the newest event the panel counts is: now - last_event_at, in ms. That is
the time from an event's creation to its appearance in the panel, plus the gap to the customer's
next event (about 9 ms for Acme at 1,157 events/s), on the same machine's clock.

usage: /usr/bin/python3 bench/panel_freshness.py URL [--customer 7494212] [--seconds 60] [--interval-ms 100]
Prints one line of figures: polls, p50, p90, p99 and max in ms. Exit 1 when the panel never answered.
"""
import argparse
import datetime
import json
import sys
import time
import urllib.parse
import urllib.request


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="the dashboard address, e.g. http://127.0.0.1:8080/")
    ap.add_argument("--customer", default="7494212")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to poll")
    ap.add_argument("--interval-ms", type=float, default=100.0, help="time between polls")
    args = ap.parse_args()
    url = urllib.parse.urljoin(args.url, "api/v1/notifications/panel?" +
                               urllib.parse.urlencode({"customer": args.customer}))
    lags, errors = [], 0
    end = time.time() + args.seconds
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                panel = json.load(r)
            now = time.time()
            if panel.get("last_event_at"):
                newest = datetime.datetime.fromisoformat(panel["last_event_at"]).timestamp()
                lags.append((now - newest) * 1000.0)
        except Exception as e:  # not ready yet, or a transient error: counted, not fatal
            errors += 1
            if errors == 1:
                print(f"panel not answering yet: {e}", file=sys.stderr)
        time.sleep(args.interval_ms / 1000.0)
    if not lags:
        print("the panel never answered with a last_event_at", file=sys.stderr)
        return 1
    lags.sort()
    print(f"panel freshness over {len(lags)} polls ({errors} errors): p50 {percentile(lags, 0.5):.0f} ms, "
          f"p90 {percentile(lags, 0.9):.0f} ms, p99 {percentile(lags, 0.99):.0f} ms, max {lags[-1]:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Loads a program of N customers into a running local API through HTTP, then
times a what-if simulation over it (docs/simulation.md, "Through the API").

    python3 scripts/sim-api-load.py --url http://127.0.0.1:3000 --program big \
        --customers 100000 --orders 2 --threads 8 [--skip-load]

Orders are seeded (the same history on every run): 1 to 2*--orders orders
per customer in 2026, amounts up to $6,000. Prints the load rate, then the
simulation's time, progress and usage (DynamoDB requests and read units, from
the job's own counters) and the local API's /_local/metrics before and after.
Standard library only.
"""

import argparse
import http.client
import json
import random
import threading
import time
import urllib.parse

LADDER = {
    "currency": "USD",
    "startDate": "2026-01-01T00:00:00Z",
    "tiers": [
        {"name": "Member", "earnRate": "0.01"},
        {"name": "Silver", "earnRate": "0.02", "upgrade": {"criteria": [
            {"id": "spent", "kind": "lifetimePurchases", "min": "3000"},
            {"id": "one", "kind": "singleOrder", "min": "1500"}],
            "condition": {"any": 1}, "upgradeType": "lazy"}},
        {"name": "Gold", "earnRate": "0.03", "upgrade": {"criteria": [
            {"id": "spent", "kind": "lifetimePurchases", "min": "10000"}],
            "condition": "all", "upgradeType": "lazy"}},
    ],
}


def draft():
    d = json.loads(json.dumps(LADDER))
    d["tiers"][2]["upgrade"]["criteria"][0]["min"] = "6000"
    d["tiers"][2]["earnRate"] = "0.04"
    return d


class Client:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body)
        headers = {"content-type": "application/json"} if data else {}
        for attempt in range(5):
            try:
                self.conn.request(method, path, data, headers)
                r = self.conn.getresponse()
                text = r.read()
                return r.status, json.loads(text) if text else None
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"{method} {path}: no answer")


def load(args):
    c = Client(args.url)
    status, body = c.call("PUT", f"/programs/{args.program}/config", LADDER)
    assert status == 200, body
    counter = [0]
    lock = threading.Lock()

    def worker(t):
        cl = Client(args.url)
        rng = random.Random(1000 + t)
        for n in range(t, args.customers, args.threads):
            customer = f"c{n:07d}"
            day = rng.randrange(0, 200)
            for i in range(rng.randrange(1, 2 * args.orders)):
                day += rng.randrange(1, 30)
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1767225600 + day * 86400 + n % 86400))
                cents = rng.randrange(1, 600_000)
                order = {"orderId": f"o{i}", "customerId": customer, "placedAt": at,
                         "status": "completed", "amount": f"{cents // 100}.{cents % 100:02d}",
                         "currency": "USD"}
                status, body = cl.call("POST", f"/programs/{args.program}/orders", order)
                assert status == 200, (status, body)
                with lock:
                    counter[0] += 1

    started = time.time()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for t in threads:
        t.start()
    last = 0
    while any(t.is_alive() for t in threads):
        time.sleep(10)
        with lock:
            done = counter[0]
        print(f"  {done} orders, {(done - last) / 10:.0f}/s", flush=True)
        last = done
    for t in threads:
        t.join()
    took = time.time() - started
    print(f"loaded {args.customers} customers, {counter[0]} orders in {took:.0f} s "
          f"({counter[0] / took:.0f} orders/s)", flush=True)


def simulate(args):
    c = Client(args.url)
    _, before = c.call("GET", "/_local/metrics")
    started = time.time()
    status, body = c.call("POST", f"/programs/{args.program}/simulations",
                          {"config": draft(), "to": "2027-06-01T00:00:00Z"})
    assert status == 202, body
    sid = body["simulationId"]
    while True:
        time.sleep(1)
        status, body = c.call("GET", f"/programs/{args.program}/simulations/{sid}")
        assert status == 200, body
        print(f"  {time.time() - started:6.1f} s {body['status']} "
              f"{body['progress']['customersSeen']} customers", flush=True)
        if body["status"] in ("done", "failed"):
            break
    took = time.time() - started
    _, after = c.call("GET", "/_local/metrics")
    report = body.get("report") or {}
    print(json.dumps({"seconds": round(took, 1), "status": body["status"],
                      "failureReason": body.get("failureReason"),
                      "progress": body["progress"], "usage": body.get("usage"),
                      "customers": report.get("customers"), "events": report.get("events"),
                      "current": report.get("current", {}).get("tiers"),
                      "draft": report.get("draft", {}).get("tiers"),
                      "movers": {k: v for k, v in report.get("movers", {}).items() if k != "sample"},
                      "metricsBefore": before, "metricsAfter": after}, indent=1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:3000")
    p.add_argument("--program", default="big")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--orders", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--skip-load", action="store_true")
    args = p.parse_args()
    if not args.skip_load:
        load(args)
    simulate(args)


if __name__ == "__main__":
    main()

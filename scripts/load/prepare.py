#!/usr/bin/env python3
"""Sets up an org on a running `openinsure serve` for the load test, over the API only.

Writes into OUT_DIR: `producer.token`, `underwriter.token`, `quote.submission` (a submission to
quote repeatedly) and `bind.ids` (BINDS quoted submissions, one id per line, each bound once).
"""
import http.client
import json
import os
import subprocess
import sys
import threading
import uuid

base_host, base_port = sys.argv[1].split(":")
out_dir = sys.argv[2]
binds = int(sys.argv[3])
cli = os.environ.get("OPENINSURE_BIN", "target/release/openinsure")
key_file = os.environ["KEY_FILE"]
org = str(uuid.uuid4())
underwriter_id = str(uuid.uuid4())


def token(role, user=None):
    args = [cli, "token", "--org", org, "--role", role, "--signing-key-file", key_file]
    if user:
        args += ["--user", user]
    return subprocess.check_output(args, text=True).strip()


admin, producer, underwriter = token("admin"), token("producer"), token("underwriter", underwriter_id)


def call(conn, method, path, tok, body=None):
    payload = json.dumps(body) if body is not None else ""
    conn.request(method, path, payload, {"authorization": f"Bearer {tok}", "content-type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        raise SystemExit(f"{method} {path}: {resp.status} {data[:300]!r}")
    return json.loads(data)["data"]


conn = http.client.HTTPConnection(base_host, int(base_port))
call(conn, "POST", "/v1/da-agreements", admin, {
    "programId": "0192f0c0-0000-7000-8000-000000000001",
    "carrierId": "0192f0c0-0000-7000-8000-0000000000ca",
    "name": "Load test GL", "status": "active",
    "effectiveDate": "2026-07-01", "expirationDate": "2027-07-01",
    "maxOccurrenceLimitCents": 200_000_000, "maxAggregateLimitCents": 400_000_000,
    "maxPremiumCents": 25_000_000, "authorizedStates": "all", "excludedStates": [],
    "authorizedNaics": [], "excludedNaics": [],
    "annualPremiumLimitCents": 1_000_000_000_000_000,
    "allowedTermsMonths": [12], "referralTriggers": {},
})
profile = call(conn, "POST", "/v1/authority/profiles", admin, {
    "name": "GL unlimited", "level": 3, "lineOfBusiness": "general_liability",
    "maxOccurrenceLimitCents": 200_000_000, "maxAggregateLimitCents": 400_000_000,
    "maxPremiumCents": 25_000_000, "canApproveReferrals": True,
})
call(conn, "POST", "/v1/authority/assignments", admin, {"userId": underwriter_id, "profileId": profile["id"]})

with open("examples/submissions/acme.json") as f:
    acme = json.load(f)

first = call(conn, "POST", "/v1/submissions", producer, acme)
with open(os.path.join(out_dir, "quote.submission"), "w") as f:
    f.write(first["id"])
for name, value in (("producer.token", producer), ("underwriter.token", underwriter)):
    with open(os.path.join(out_dir, name), "w") as f:
        f.write(value)

ids = [None] * binds
workers = 8


def prepare(start):
    c = http.client.HTTPConnection(base_host, int(base_port))
    for i in range(start, binds, workers):
        body = dict(acme, insuredName=f"Load Test Insured {i}")
        sub = call(c, "POST", "/v1/submissions", producer, body)
        call(c, "POST", f"/v1/submissions/{sub['id']}/quote", producer, {})
        ids[i] = sub["id"]


threads = [threading.Thread(target=prepare, args=(w,)) for w in range(workers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if any(i is None for i in ids):
    raise SystemExit("some submissions were not prepared")
with open(os.path.join(out_dir, "bind.ids"), "w") as f:
    f.write("\n".join(ids) + "\n")
print(f"org {org}: {binds} quoted submissions ready to bind")

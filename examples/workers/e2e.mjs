// End to end against the Worker under `wrangler dev`, beside `openinsure serve` on the same
// database: scripts/workers.sh e2e starts everything and passes the addresses and tokens.
//
//   PHASE                    `worker` (the Worker alone) or `compare` (both hosts)
//   WORKER_URL, NATIVE_URL   the two hosts
//   TOKENS                   JSON: producer, underwriter, supervisor, adjuster, finance, stranger
//   SUBMISSION               the submission file (examples/submissions/acme.json)
//   REPORT                   where to write the measured latencies (JSON)
import { readFileSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import assert from "node:assert/strict";

const W = process.env.WORKER_URL;
const N = process.env.NATIVE_URL;
const T = JSON.parse(process.env.TOKENS);
// effective today, so that a loss can be reported on it today
const today = new Date().toISOString().slice(0, 10);
const acme = { ...JSON.parse(readFileSync(process.env.SUBMISSION, "utf8")), effectiveDate: today };
const REDACTED = "[REDACTED]";

async function call(base, method, path, token, body, headers = {}) {
  const started = performance.now();
  const response = await fetch(base + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let json;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: response.status, json, headers: response.headers, ms };
}

async function ok(base, method, path, token, body, headers) {
  const r = await call(base, method, path, token, body, headers);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${base}${path}: ${r.status} ${JSON.stringify(r.json)}`);
  return r;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const p = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * q))]; };

const PHASE = process.env.PHASE;
// each insured is bound once a year under an agreement: the latency runs use insureds of their own
let insureds = 0;
function another() {
  insureds += 1;
  const n = String(Date.now() % 1e6 * 10 + insureds).padStart(7, "0").slice(-7);
  return { ...acme, insuredName: `${acme.insuredName} ${n}`, fein: `${n.slice(0, 2)}-${n}` };
}

async function quote(base, submission = acme) {
  const sub = await ok(base, "POST", "/v1/submissions", T.producer, submission);
  const q = await ok(base, "POST", `/v1/submissions/${sub.json.data.id}/quote`, T.producer);
  return { sub: sub.json.data, quote: q.json.data, ms: q.ms };
}

if (PHASE === "worker") {
// the first request wakes the isolate (the Worker's cold start, as wrangler dev shows it)
const cold = await call(W, "GET", "/v1/submissions", T.producer);
assert.equal(cold.status, 200, JSON.stringify(cold.json));
console.log(`cold start (first request): ${cold.ms.toFixed(1)} ms`);

const onWorker = await quote(W);

// bind once, with an idempotency key; the retry is the first answer again
const bindBody = { billingPlan: "quarterly", downPaymentId: crypto.randomUUID() };
const key = { "idempotency-key": `e2e-bind-${crypto.randomUUID()}` };
const bound = await ok(W, "POST", `/v1/submissions/${onWorker.sub.id}/bind`, T.underwriter, bindBody, key);
assert.equal(bound.status, 201);
const policy = bound.json.data;
const again = await call(W, "POST", `/v1/submissions/${onWorker.sub.id}/bind`, T.underwriter, bindBody, key);
assert.equal(again.status, 201);
assert.equal(again.headers.get("idempotent-replayed"), "true");
assert.equal(again.json.data.id, policy.id, "the replay is the first bind");
console.log(`bound ${policy.number} (${policy.id}) through the Worker; the retry replayed it`);

// another org's caller cannot see it exists
const stranger = await call(W, "GET", `/v1/policies/${policy.id}`, T.stranger);
assert.equal(stranger.status, 404, JSON.stringify(stranger.json));
// nor can bad input write anything
const bad = await call(W, "POST", "/v1/submissions", T.producer, { ...acme, annualRevenueCents: -5 });
assert.equal(bad.status, 400);
assert.ok(JSON.stringify(bad.json).includes("annualRevenueCents"), JSON.stringify(bad.json));

// a claim with PHI: redacted for the producer, visible to the assigned adjuster
const notice = {
  policyId: policy.id,
  dateOfLoss: today,
  lossDescription: "employee fell from a loading dock",
  claimantName: "Jane Roe",
  claimantDob: "1984-06-02",
  claimantSsn: "123-45-6789",
  diagnosisCodes: ["S52.501A"],
  treatmentNotes: "closed reduction, cast",
};
const claim = (await ok(W, "POST", "/v1/claims", T.producer, notice)).json.data;
assert.equal(claim.claimantName, REDACTED, "the producer sees no PHI");
await ok(W, "POST", `/v1/claims/${claim.id}/assign`, T.supervisor, { adjusterId: T.adjusterId });
const seen = (await ok(W, "GET", `/v1/claims/${claim.id}`, T.adjuster)).json.data;
assert.equal(seen.claimantName, "Jane Roe", "the assigned adjuster sees PHI");
console.log("claim filed; PHI redacted for the producer, shown to the assigned adjuster");
// a reserve is booked only by the event's delivery: outbox -> queue -> consumer -> ledger
await ok(W, "POST", `/v1/claims/${claim.id}/status`, T.adjuster, { status: "open" });
await ok(W, "POST", `/v1/claims/${claim.id}/reserve`, T.adjuster, { reserveCents: 1500000, reason: "initial estimate" });
let reserveBooked = false;
for (let i = 0; i < 100 && !reserveBooked; i++) {
  const entries = (await ok(W, "GET", "/v1/ledger/journal", T.finance)).json.data;
  reserveBooked = entries.some((e) => e.code === "RESERVE_ADJUSTMENT" && e.amountCents === 1500000);
  if (!reserveBooked) await new Promise((r) => setTimeout(r, 200));
}
assert.ok(reserveBooked, "the reserve reached the ledger through the queue");
console.log("the reserve's event went through the queue to the ledger");

// the Cron trigger runs the clock: the policy issued for today becomes active
await ok(W, "POST", `/v1/policies/${policy.id}/issue`, T.underwriter);
const before = (await ok(W, "GET", `/v1/policies/${policy.id}`, T.underwriter)).json.data.status;
const cron = await fetch(`${W}/__scheduled?cron=*+*+*+*+*`);
assert.equal(cron.status, 200, await cron.text());
const after = (await ok(W, "GET", `/v1/policies/${policy.id}`, T.underwriter)).json.data.status;
console.log(`the Cron trigger ran the clock: policy ${before} -> ${after}`);
assert.equal(after, "active");

// the ledger, through the proxy and TigerBeetle: the down payment is booked and balances
let journal;
for (let i = 0; i < 50; i++) {
  journal = (await ok(W, "GET", "/v1/ledger/journal", T.finance)).json.data;
  if (journal.length > 0) break;
  await new Promise((r) => setTimeout(r, 200));
}
assert.ok(journal.length > 0, "the journal shows the bind's money");
const trial = (await ok(W, "GET", "/v1/ledger/trial-balance", T.finance)).json.data;
assert.equal(trial.totalDebitsCents, trial.totalCreditsCents, JSON.stringify(trial));
assert.ok(trial.totalDebitsCents > 0);
console.log(`ledger through the proxy: ${journal.length} journal entries, trial balance ${trial.totalDebitsCents} = ${trial.totalCreditsCents}`);

// the rate limiting binding is shared by every isolate: one caller past 300 requests a minute
// is refused with a 429 and a Retry-After, and another caller is not
let limited;
for (let i = 0; i < 320 && !limited; i++) {
  const r = await call(W, "GET", "/v1/submissions?limit=1", T.stranger);
  if (r.status === 429) limited = { i, r };
  else assert.equal(r.status, 200, JSON.stringify(r.json));
}
assert.ok(limited, "320 requests in a minute were all let through");
assert.equal(limited.r.json.error.code, "rate_limited");
assert.equal(limited.r.headers.get("retry-after"), "60");
assert.equal((await call(W, "GET", "/v1/submissions?limit=1", T.producer)).status, 200, "the limit is per caller");
console.log(`rate limited after ${limited.i} requests of one caller (the limit is 300 a minute)`);
console.log("worker phase ok");
} else if (PHASE === "rooms") {
// a deal room on its Durable Object: two Yjs clients converge, a viewer is refused, a message
// reaches the system of record
const client = promisify(execFile);
const yjs = (url, name, ...args) => client("node", [process.env.YJS_CLIENT, url, name, ...args], { timeout: 60000 });
const sub = (await ok(W, "POST", "/v1/submissions", T.underwriter, another())).json.data;
const room = (await ok(W, "POST", "/v1/deal-rooms", T.underwriter, { submissionId: sub.id, title: "Acme GL on Workers" })).json.data;
await ok(W, "POST", `/v1/deal-rooms/${room.id}/participants`, T.underwriter, { userId: T.underwriter2Id, role: "underwriter" });
await ok(W, "POST", `/v1/deal-rooms/${room.id}/participants`, T.underwriter, { userId: T.viewerId, role: "viewer" });
const wsUrl = async (token) => (await ok(W, "GET", `/v1/deal-rooms/${room.id}/ws`, token)).json.data.wsUrl;
// a connection without a valid room token is refused by the Worker, before the room's object
const forged = (await wsUrl(T.underwriter)).replace(/token=[^&]+/, "token=forged");
const refusedBy = await yjs(forged, "X", "0").then(() => null, (e) => e);
assert.ok(refusedBy && /401/.test(refusedBy.stderr), `a forged token is refused: ${refusedBy && refusedBy.stderr}`);
// 50 edits each: "A0;".."A9;" (3 chars) and "A10;".."A49;" (4 chars) = 190 per client
const [a, b] = await Promise.all([
  yjs(await wsUrl(T.underwriter), "A", "50", "380"),
  yjs(await wsUrl(T.underwriter2), "B", "50", "380"),
]);
const [ra, rb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
assert.equal(ra.length, 380);
assert.equal(ra.text, rb.text, "the two clients converge through the Durable Object");
assert.equal(ra.errors + rb.errors, 0);
const v = await yjs(await wsUrl(T.viewer), "V", "1", "-", "viewer");
assert.ok(JSON.parse(v.stdout).errors >= 1, "the viewer's edit is refused");
console.log(`two Yjs clients converged on ${ra.length} characters through the room's object; the viewer was refused`);
// the seed's REST reads of the object, and a message posted through it
const posted = await ok(W, "POST", `/v1/deal-rooms/${room.id}/live/messages`, T.service, { content: "bound on Workers" });
assert.equal(posted.status, 201);
const state = (await ok(W, "GET", `/v1/deal-rooms/${room.id}/live/state`, T.service)).json.data;
assert.equal(state.room.id, room.id);
let stored = [];
for (let i = 0; i < 50 && !stored.some((m) => m.content === "bound on Workers"); i++) {
  stored = (await ok(W, "GET", `/v1/deal-rooms/${room.id}/messages`, T.underwriter)).json.data;
  await new Promise((r) => setTimeout(r, 100));
}
assert.ok(stored.some((m) => m.content === "bound on Workers"), "the message reached the system of record");
console.log("a message posted through the object reached the system of record");
writeFileSync(process.env.ROOM_FILE, JSON.stringify({ room: room.id, text: ra.text }));
console.log("rooms phase ok");
} else if (PHASE === "reload") {
// after the object was evicted (wrangler restarted), a new client receives the whole notepad
const client = promisify(execFile);
const { room, text } = JSON.parse(readFileSync(process.env.ROOM_FILE, "utf8"));
const url = (await ok(W, "GET", `/v1/deal-rooms/${room}/ws`, T.underwriter)).json.data.wsUrl;
const r = JSON.parse((await client("node", [process.env.YJS_CLIENT, url, "C", "0", String(text.length)], { timeout: 60000 })).stdout);
assert.equal(r.text, text, "the notepad survived the object's eviction");
console.log(`after eviction the room reloaded its notepad (${r.length} characters)`);
console.log("reload phase ok");
} else if (PHASE === "compare") {
// the same quote on both hosts: the worksheets are equal
const onWorker = await quote(W);
const onNative = await quote(N);
assert.deepEqual(onWorker.quote.worksheet, onNative.quote.worksheet, "the Worker rates exactly as serve does");
assert.equal(onWorker.quote.totalDueCents, onNative.quote.totalDueCents);
console.log(`worksheet equal on both hosts: total due ${onWorker.quote.totalDueCents} cents`);

// latency, the same requests on both hosts (reported, not asserted)
const report = {};
for (const [name, base] of [["worker", W], ["native", N]]) {
  const quotes = [];
  const binds = [];
  for (let i = 0; i < 15; i++) {
    const { sub, ms } = await quote(base, another());
    quotes.push(ms);
    const b = await ok(base, "POST", `/v1/submissions/${sub.id}/bind`, T.underwriter, { billingPlan: "paid_in_full", downPaymentId: crypto.randomUUID() });
    binds.push(b.ms);
  }
  report[name] = { quote_ms_p50: median(quotes), quote_ms_p90: p(quotes, 0.9), bind_ms_p50: median(binds), bind_ms_p90: p(binds, 0.9) };
}
console.log(JSON.stringify(report, null, 2));
if (process.env.REPORT) writeFileSync(process.env.REPORT, JSON.stringify(report, null, 2));
console.log("compare phase ok");
} else {
  throw new Error("PHASE must be `worker` or `compare`");
}

#!/usr/bin/env node
// Convergence client for the deal room real-time server (our protocol, not y-websocket's).
//
//   node tests/yjs/client.mjs <ws-url-with-token> <name> [edits=50] [expected-length] [viewer]
//
// Protocol: the server first sends a TEXT frame {"type":"init",...}, then — if the shared
// document is not empty — one BINARY frame holding the document state as a Yjs v1 update. After
// that every BINARY frame is a raw Yjs v1 update from another client, and TEXT frames (JSON with
// a `type`) may arrive at any time; of those only {"type":"error",...} matters here (printed to
// stderr and counted). The client sends its own changes as raw Yjs v1 update BINARY frames, no
// y-protocols framing. The shared text is doc.getText('notepad').
//
// After `init` (+100 ms for the state frame) the client makes <edits> random inserts of
// `${name}${i};`, 0–5 ms apart, then waits until the notepad is <expected-length> long or, with no
// expected length, until no frame has arrived for 1500 ms. It then prints one JSON line
//   {"name","text","length","errors","received"}
// on stdout and exits 0. Overall timeout 30 s: exit 2.
//
// With a 5th argument `viewer` (pass "" or "-" as expected-length) the client makes exactly one
// edit and expects an error frame with code `edit_forbidden` within 3 s: prints the JSON line and
// exits 0 if it came, exits 3 otherwise.
//
// Other failures (bad arguments, connection refused or rejected, socket closed early): exit 1.
import * as Y from 'yjs'
import WebSocket from 'ws'

const OVERALL_TIMEOUT_MS = 30_000
const INITIAL_STATE_WAIT_MS = 100
const IDLE_MS = 1500
const VIEWER_WAIT_MS = 3000
const POLL_MS = 20

let ws = null
let overall = null
let finished = false

const [url, name = 'A', editsArg = '50', lengthArg, modeArg] = process.argv.slice(2)
const usage = 'usage: node client.mjs <ws-url> <name> [edits=50] [expected-length] [viewer]'
if (!url) fail(1, usage)
const edits = Number(editsArg === '' || editsArg === '-' ? 50 : editsArg)
if (!Number.isInteger(edits) || edits < 0) fail(1, `bad edit count ${JSON.stringify(editsArg)}\n${usage}`)
const expectedLength = lengthArg === undefined || lengthArg === '' || lengthArg === '-' ? null : Number(lengthArg)
if (expectedLength !== null && (!Number.isInteger(expectedLength) || expectedLength < 0)) {
  fail(1, `bad expected length ${JSON.stringify(lengthArg)}\n${usage}`)
}
if (modeArg !== undefined && modeArg !== '' && modeArg !== 'viewer') fail(1, `bad mode ${JSON.stringify(modeArg)}\n${usage}`)
const viewer = modeArg === 'viewer'

const doc = new Y.Doc()
const notepad = doc.getText('notepad')
let errors = 0
let received = 0
let lastFrameAt = Date.now()
let gotInit = false
let gotForbidden = false

ws = new WebSocket(url)

doc.on('update', (update, origin) => {
  if (origin !== 'remote' && ws.readyState === WebSocket.OPEN) ws.send(update)
})

overall = setTimeout(() => {
  fail(2, `timeout after ${OVERALL_TIMEOUT_MS} ms (init=${gotInit}, length=${notepad.length}, ` +
    `expected=${expectedLength ?? 'idle'}): ${summary()}`)
}, OVERALL_TIMEOUT_MS)

ws.on('message', (data, isBinary) => {
  lastFrameAt = Date.now()
  if (isBinary) {
    received++
    try {
      Y.applyUpdate(doc, toBytes(data), 'remote')
    } catch (err) {
      fail(1, `could not apply binary frame #${received} (${byteLength(data)} bytes): ${err?.stack ?? err}`)
    }
    return
  }
  const text = data.toString()
  let msg
  try {
    msg = JSON.parse(text)
  } catch {
    console.error(`[${name}] ignoring non-JSON text frame: ${text.slice(0, 200)}`)
    return
  }
  if (msg?.type === 'init') {
    if (!gotInit) {
      gotInit = true
      setTimeout(() => { run().catch(err => fail(1, `[${name}] ${err?.stack ?? err}`)) }, INITIAL_STATE_WAIT_MS)
    }
  } else if (msg?.type === 'error') {
    errors++
    console.error(`[${name}] error frame: ${text}`)
    if ((msg.code ?? msg.error?.code) === 'edit_forbidden') gotForbidden = true
  }
})

ws.on('unexpected-response', (_req, res) => {
  fail(1, `[${name}] websocket upgrade rejected: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`)
})
ws.on('error', err => fail(1, `[${name}] websocket error: ${err?.message ?? err}`))
ws.on('close', (code, reason) => {
  if (finished) return
  if (viewer && gotForbidden) return done()
  fail(viewer && gotInit ? 3 : 1,
    `[${name}] socket closed by server before finishing (code ${code}${reason?.length ? `, ${reason}` : ''}): ` +
    summary())
})

async function run () {
  if (viewer) {
    notepad.insert(randomIndex(), `${name}0;`)
    const deadline = Date.now() + VIEWER_WAIT_MS
    while (!gotForbidden && Date.now() < deadline) await sleep(POLL_MS)
    if (!gotForbidden) fail(3, `[${name}] no edit_forbidden error within ${VIEWER_WAIT_MS} ms: ${summary()}`)
    return done()
  }
  for (let i = 0; i < edits; i++) {
    await sleep(Math.floor(Math.random() * 6))
    if (finished) return
    notepad.insert(randomIndex(), `${name}${i};`)
  }
  const editsDoneAt = Date.now()
  for (;;) {
    if (finished) return
    if (expectedLength !== null) {
      if (notepad.length === expectedLength) break
    } else if (Date.now() - Math.max(lastFrameAt, editsDoneAt) >= IDLE_MS) {
      break
    }
    await sleep(POLL_MS)
  }
  done()
}

function report () {
  const text = notepad.toString()
  return { name, text, length: text.length, errors, received }
}

// report() for diagnostics on stderr, with the text cut short
function summary () {
  const r = report()
  if (r.text.length > 200) r.text = `${r.text.slice(0, 200)}…`
  return JSON.stringify(r)
}

function done () {
  if (finished) return
  finished = true
  clearTimeout(overall)
  const line = JSON.stringify(report()) + '\n'
  process.stdout.write(line, () => closeAndExit(0))
}

function fail (code, message) {
  if (finished) return
  finished = true
  clearTimeout(overall)
  console.error(message)
  closeAndExit(code)
}

function closeAndExit (code) {
  process.exitCode = code
  if (ws === null || ws.readyState === WebSocket.CLOSED) process.exit(code)
  const exit = () => process.exit(code)
  ws.once('close', exit)
  setTimeout(exit, 1000).unref()
  try {
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
    else ws.close(1000)
  } catch {
    exit()
  }
}

function randomIndex () {
  return Math.floor(Math.random() * (notepad.length + 1))
}

function toBytes (data) {
  if (Array.isArray(data)) data = Buffer.concat(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

function byteLength (data) {
  return Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength
}

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

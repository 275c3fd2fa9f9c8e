#!/usr/bin/env node
// Reference Yjs server: the npm package @y/websocket-server, started the way its own bin
// (`npx y-websocket`, src/server.js) starts it — an http server whose upgrades go to a `ws`
// WebSocketServer, each connection handed to `setupWSConnection` from `@y/websocket-server/utils`.
// Speaks the y-websocket protocol (y-protocols sync + awareness), NOT our deal room protocol.
//
//   node tests/yjs/ywss.mjs <port>      # prints "listening <port>" once listening on 127.0.0.1
//
// In memory only: the persistence / webhook switches the package reads from the environment at
// import time are cleared before it is imported.
import http from 'node:http'
import { WebSocketServer } from 'ws'

const HOST = '127.0.0.1'
const portArg = process.argv[2] ?? '1234'
const port = Number(portArg)
if (!/^\d+$/.test(portArg) || port > 65535) {
  console.error('usage: node ywss.mjs <port>')
  process.exit(64)
}

for (const name of ['YPERSISTENCE', 'CALLBACK_URL']) delete process.env[name]
const { setupWSConnection, setPersistence } = await import('@y/websocket-server/utils')
setPersistence(null)

const wss = new WebSocketServer({ noServer: true })
wss.on('connection', setupWSConnection)

const server = http.createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' })
  response.end('okay')
})
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, ws => {
    wss.emit('connection', ws, request)
  })
})
server.on('error', err => {
  console.error(`ywss: ${err.message}`)
  process.exit(1)
})
server.listen(port, HOST, () => {
  console.log(`listening ${server.address().port}`)
})

const stop = () => {
  for (const ws of wss.clients) ws.terminate()
  server.close(() => process.exit(0))
  server.closeAllConnections()
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)

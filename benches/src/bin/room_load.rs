//! Load program for deal room WebSocket servers: one room, many clients, over loopback.
//!
//! ```text
//! room-load openinsure <http-base> <signing-key-file> <chat|yjs> [clients] [seconds] [interval-ms]
//! room-load y-websocket <ws-url-of-a-room> [clients] [seconds] [interval-ms]
//! ```
//!
//! - `chat` (openinsure only): every client sends a chat message, waits for the server's copy of
//!   its own message, and sends the next (closed loop); every client receives every message.
//! - `yjs`: every client sends a one-character Yjs update every `interval-ms` (open loop); the
//!   server relays it to the other clients. The same load for `openinsure serve` (raw Yjs update
//!   frames) and for `@y/websocket-server` (y-protocols sync frames).
//!
//! Prints one JSON line: messages or updates sent, delivered to clients, delivered per second,
//! and delivery latency percentiles (send to receipt, one clock, microseconds resolution).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs, reason = "a benchmark program")]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use openinsure_auth::TokenKeys;
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Options, ReadTxn, Text, Transact, Update};

struct Stats {
    start: Instant,
    sent: AtomicU64,
    delivered: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
    /// Per client, the send time (µs since start) of each Yjs clock.
    sends: Vec<Mutex<Vec<u64>>>,
    stop: AtomicBool,
}

impl Stats {
    fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
    fn record(&self, sent_us: u64) {
        let lat = self.now_us().saturating_sub(sent_us);
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.latencies_us.lock().unwrap().push(u32::try_from(lat).unwrap_or(u32::MAX));
    }
}

fn arg(args: &[String], n: usize, default: u64) -> u64 {
    args.get(n).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn hex(text: &str) -> Vec<u8> {
    let t = text.trim();
    (0..t.len()).step_by(2).map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap()).collect()
}

fn varuint(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn read_varuint(bytes: &[u8]) -> Option<(usize, usize)> {
    let (mut n, mut shift) = (0usize, 0);
    for (i, b) in bytes.iter().enumerate() {
        n |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((n, i + 1));
        }
        shift += 7;
    }
    None
}

/// Sets up a room on `openinsure serve` and returns one WebSocket URL per client.
async fn openinsure_room(base: &str, key_file: &str, clients: usize) -> Vec<String> {
    let keys = TokenKeys::new("dev", &hex(&std::fs::read_to_string(key_file).unwrap())).unwrap();
    let org = OrgId::from_uuid(uuid::Uuid::now_v7());
    let users: Vec<Caller> =
        (0..clients).map(|_| Caller::new(UserId::from_uuid(uuid::Uuid::now_v7()), org, Role::Underwriter)).collect();
    let http = reqwest::Client::new();
    let call = |c: &Caller, method: reqwest::Method, path: String, body: Option<Value>| {
        let token = keys.issue(c, chrono::Utc::now()).unwrap();
        let mut req = http.request(method, format!("{base}{path}")).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let v: Value = resp.json().await.unwrap();
            assert!(status.is_success(), "{status} {v}");
            v["data"].clone()
        }
    };
    let acme: Value = serde_json::from_str(include_str!("../../../examples/submissions/acme.json")).unwrap();
    let sub = call(&users[0], reqwest::Method::POST, "/v1/submissions".into(), Some(acme)).await;
    let room = call(
        &users[0],
        reqwest::Method::POST,
        "/v1/deal-rooms".into(),
        Some(json!({ "submissionId": sub["id"], "title": "load" })),
    )
    .await;
    let id = room["id"].as_str().unwrap().to_owned();
    let mut urls = Vec::new();
    for (i, u) in users.iter().enumerate() {
        if i > 0 {
            let body = json!({ "userId": u.user_id, "role": "underwriter" });
            call(&users[0], reqwest::Method::POST, format!("/v1/deal-rooms/{id}/participants"), Some(body)).await;
        }
        let t = call(u, reqwest::Method::GET, format!("/v1/deal-rooms/{id}/ws"), None).await;
        urls.push(t["wsUrl"].as_str().unwrap().to_owned());
    }
    urls
}

fn summary(server: &str, mode: &str, clients: usize, seconds: u64, stats: &Stats) -> Value {
    let mut lat = stats.latencies_us.lock().unwrap().clone();
    lat.sort_unstable();
    let pct = |p: usize| lat.get((lat.len().saturating_sub(1)) * p / 100).copied().unwrap_or(0);
    let delivered = stats.delivered.load(Ordering::Relaxed);
    json!({
        "server": server,
        "mode": mode,
        "clients": clients,
        "seconds": seconds,
        "sent": stats.sent.load(Ordering::Relaxed),
        "delivered": delivered,
        "deliveredPerSec": delivered / seconds.max(1),
        "p50Us": pct(50),
        "p99Us": pct(99),
        "maxUs": lat.last().copied().unwrap_or(0),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let server = args.get(1).cloned().unwrap_or_default();
    let (urls, mode, rest): (Vec<String>, String, usize) = match server.as_str() {
        "openinsure" => {
            let clients = arg(&args, 5, 50) as usize;
            (openinsure_room(&args[2], &args[3], clients).await, args[4].clone(), 5)
        }
        "y-websocket" => {
            let clients = arg(&args, 3, 50) as usize;
            (vec![args[2].clone(); clients], "yjs".to_owned(), 3)
        }
        _ => {
            eprintln!(
                "usage: room-load openinsure <http-base> <key-file> <chat|yjs> [clients] [seconds] [interval-ms]"
            );
            eprintln!("       room-load y-websocket <ws-url> [clients] [seconds] [interval-ms]");
            std::process::exit(64);
        }
    };
    let clients = urls.len();
    let seconds = arg(&args, rest + 1, 10);
    let interval = Duration::from_millis(arg(&args, rest + 2, 20));
    let stats = Arc::new(Stats {
        start: Instant::now(),
        sent: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        latencies_us: Mutex::new(Vec::with_capacity(1 << 20)),
        sends: (0..clients).map(|_| Mutex::new(Vec::new())).collect(),
        stop: AtomicBool::new(false),
    });
    let y_websocket = server == "y-websocket";

    let mut sockets = Vec::new();
    for url in &urls {
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        sockets.push(ws);
    }
    // let the joins settle (init, notepad state, presence) before measuring
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut tasks = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let stats = stats.clone();
        let mode = mode.clone();
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = ws.split();
            let me = i as u64 + 1;
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
            let writer = tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    if sink.send(m).await.is_err() {
                        break;
                    }
                }
            });
            if mode == "chat" {
                let send_chat = |tx: &tokio::sync::mpsc::UnboundedSender<Message>, stats: &Stats| {
                    let content = format!("{me}:{}", stats.now_us());
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                    let _ = tx.send(Message::Text(json!({ "type": "chat", "content": content }).to_string().into()));
                };
                send_chat(&tx, &stats);
                while let Some(Ok(m)) = stream.next().await {
                    let Message::Text(t) = m else { continue };
                    let Some(start) = t.find("\"content\":\"") else { continue };
                    let rest = &t[start + 11..];
                    let Some(end) = rest.find('"') else { continue };
                    let Some((who, at)) = rest[..end].split_once(':') else { continue };
                    stats.record(at.parse().unwrap_or(0));
                    if who == me.to_string() {
                        if stats.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        send_chat(&tx, &stats);
                    }
                }
            } else {
                let doc = Doc::with_options(Options { client_id: yrs::block::ClientID::new(me), ..Options::default() });
                let text = doc.get_or_insert_text("notepad");
                let sender = {
                    let stats = stats.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(interval);
                        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        while !stats.stop.load(Ordering::Relaxed) {
                            tick.tick().await;
                            let before = doc.transact().state_vector();
                            text.insert(&mut doc.transact_mut(), 0, "x");
                            let update = doc.transact().encode_state_as_update_v1(&before);
                            stats.sends[i].lock().unwrap().push(stats.now_us());
                            stats.sent.fetch_add(1, Ordering::Relaxed);
                            let frame = if y_websocket {
                                let mut f = vec![0u8, 2u8];
                                varuint(update.len(), &mut f);
                                f.extend_from_slice(&update);
                                f
                            } else {
                                update
                            };
                            if tx.send(Message::Binary(frame.into())).is_err() {
                                break;
                            }
                        }
                    })
                };
                while let Some(Ok(m)) = stream.next().await {
                    let Message::Binary(b) = m else { continue };
                    let payload: &[u8] = if y_websocket {
                        // [messageSync=0][messageYjsUpdate=2][varuint len][update]
                        if b.len() < 3 || b[0] != 0 || b[1] != 2 {
                            continue;
                        }
                        let Some((_, n)) = read_varuint(&b[2..]) else { continue };
                        &b[2 + n..]
                    } else {
                        &b
                    };
                    let Ok(update) = Update::decode_v1(payload) else { continue };
                    // each update holds one insert: its first clock names it
                    for (client, clock) in update.state_vector_lower().iter() {
                        let client = client.get();
                        if client == me || client == 0 || client as usize > clients {
                            continue;
                        }
                        let sent = stats.sends[client as usize - 1].lock().unwrap().get(*clock as usize).copied();
                        if let Some(at) = sent {
                            stats.record(at);
                        }
                    }
                }
                sender.abort();
            }
            drop(tx);
            writer.abort();
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stats.stop.store(true, Ordering::Relaxed);
    let measured = summary(&server, &mode, clients, seconds, &stats);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for t in &tasks {
        t.abort();
    }
    println!("{measured}");
}

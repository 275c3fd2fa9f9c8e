//! Deal rooms, natively: one task per active room owning its [`Hub`], WebSocket connections with
//! a bounded outbound queue each, ping/pong, a persistence queue that retries, and idle rooms
//! persisted and unloaded.
//!
//! - **A slow client cannot stall a room.** Each connection has an outbound queue of
//!   [`RoomHostConfig::outbound_queue`] frames. The room never waits for a client: when a
//!   client's queue is full, that client is disconnected at once with close code 1013 ("try
//!   again later") and leaves the room like any other departure; everyone else carries on. It
//!   reconnects and, sending its Yjs state vector (`&sv=`), receives only what it missed.
//! - **No message is lost when the store is slow.** Persistence is a queue apart from the rooms:
//!   messages, annotations, notepads and last-seen times are written in order, each retried with
//!   backoff until the store takes it (a store that refuses for good, as with a room deleted
//!   meanwhile, is logged). [`RoomHost::drain`] waits until everything queued is written.
//! - **Ping/pong.** The server pings every [`RoomHostConfig::ping_every`]; a client silent for
//!   three intervals is disconnected.
//! - **Idle rooms** (no connection for [`RoomHostConfig::idle_unload`]) persist their notepad and
//!   stop; the next connection loads the room again from the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use openinsure::api::Api;
use openinsure::dealrooms::RoomGateway;
use openinsure_core::clock::{Clock, IdGen};
use openinsure_core::ids::{AnnotationId, DealRoomId, OrgId, UserId};
use openinsure_dealroom::hub::{AnnotationChange, AnnotationInput, ChatInput, Member, Refusal, RoomState};
use openinsure_dealroom::protocol::{Annotation, ChatMessage};
use openinsure_dealroom::room::{DealRoom, Participant};
use openinsure_dealroom::{DealRoomStore, Effect, Frame, Hub, HubConfig};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Limits and cadences of the room host.
#[derive(Clone, Copy, Debug)]
pub struct RoomHostConfig {
    /// Frames queued for one connection before it is disconnected as too slow.
    pub outbound_queue: usize,
    /// How long a room with no connection stays loaded.
    pub idle_unload: Duration,
    /// How often the server pings each connection.
    pub ping_every: Duration,
    /// The largest WebSocket message the transport accepts (the hub refuses smaller ones over
    /// its own limits with an error frame; beyond this the connection is closed with 1009).
    pub max_message_bytes: usize,
    /// Frames one connection may send per second, sustained. A client sending faster is
    /// throttled: the server stops reading from it until the rate allows (TCP backpressure), so
    /// a burst is slowed down, never dropped, and the room's other clients are not flooded.
    pub inbound_per_second: u32,
    /// Frames one connection may send at once before the rate applies.
    pub inbound_burst: u32,
    /// Binary frames larger than this, and state-vector syncs, are handled off the runtime's
    /// worker threads (`block_in_place`), so a large Yjs update in one room never stalls the
    /// other rooms and the API.
    pub heavy_frame_bytes: usize,
    /// The hub's limits.
    pub hub: HubConfig,
}

impl Default for RoomHostConfig {
    fn default() -> Self {
        RoomHostConfig {
            outbound_queue: 256,
            idle_unload: Duration::from_secs(30),
            ping_every: Duration::from_secs(20),
            max_message_bytes: 4 << 20,
            inbound_per_second: 50,
            inbound_burst: 100,
            heavy_frame_bytes: 16 * 1024,
            hub: HubConfig::default(),
        }
    }
}

/// How long a connection the server closes stays open for the client to read the close frame.
const CLOSE_LINGER: Duration = Duration::from_millis(500);

enum Persist {
    Message(OrgId, ChatMessage),
    Annotation(OrgId, Annotation),
    Document(OrgId, DealRoomId, Vec<u8>),
    Append(OrgId, DealRoomId, Vec<u8>),
    Seen(OrgId, DealRoomId, UserId, DateTime<Utc>),
}

type Reply<T> = oneshot::Sender<T>;

enum Command {
    Connect {
        conn: u64,
        user: UserId,
        state_vector: Option<Vec<u8>>,
        out: mpsc::Sender<Frame>,
        close: mpsc::Sender<CloseFrame>,
    },
    Text {
        conn: u64,
        text: String,
    },
    Binary {
        conn: u64,
        bytes: Vec<u8>,
    },
    Disconnect {
        conn: u64,
    },
    State(Reply<RoomState>),
    Messages(Reply<Vec<ChatMessage>>),
    Post {
        member: Member,
        input: ChatInput,
        reply: Reply<Result<ChatMessage, Refusal>>,
    },
    Annotations(Reply<Vec<Annotation>>),
    Annotate {
        member: Member,
        input: AnnotationInput,
        reply: Reply<Result<Annotation, Refusal>>,
    },
    ChangeAnnotation {
        member: Member,
        id: AnnotationId,
        change: AnnotationChange,
        reply: Reply<Result<Annotation, Refusal>>,
    },
    Changed {
        room: DealRoom,
        participants: Vec<Participant>,
    },
    Document(Reply<Vec<u8>>),
    Flush(Reply<()>),
}

struct Inner {
    store: Arc<dyn DealRoomStore>,
    ids: Arc<dyn IdGen>,
    clock: Arc<dyn Clock>,
    rooms: Mutex<HashMap<DealRoomId, mpsc::Sender<Command>>>,
    persist: mpsc::UnboundedSender<Persist>,
    pending: AtomicUsize,
    next_conn: AtomicU64,
    config: RoomHostConfig,
    /// Notifies the participants a stored message mentions ([`RoomHost::notify_mentions`]).
    mentions: std::sync::OnceLock<openinsure::notifications::MentionNotifier>,
}

/// The live rooms of this process. Cheap to clone. Implements [`RoomGateway`] for the API's
/// server-to-server routes.
#[derive(Clone)]
pub struct RoomHost {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RoomHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomHost").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> openinsure::Error {
    openinsure::Error::Backend(e.to_string())
}

impl RoomHost {
    /// A room host over `store`; starts its persistence task (call it inside a Tokio runtime).
    pub fn new(
        store: Arc<dyn DealRoomStore>,
        ids: Arc<dyn IdGen>,
        clock: Arc<dyn Clock>,
        config: RoomHostConfig,
    ) -> RoomHost {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            store,
            ids,
            clock,
            rooms: Mutex::new(HashMap::new()),
            persist: tx,
            pending: AtomicUsize::new(0),
            next_conn: AtomicU64::new(1),
            config,
            mentions: std::sync::OnceLock::new(),
        });
        tokio::spawn(persister(inner.clone(), rx));
        RoomHost { inner }
    }

    /// Notifies the participants each stored chat message mentions, through `notifier` (set
    /// once; the app that serves the rooms is made after the host).
    pub fn notify_mentions(&self, notifier: openinsure::notifications::MentionNotifier) {
        let _ = self.inner.mentions.set(notifier);
    }

    /// Rooms loaded now.
    pub async fn loaded(&self) -> usize {
        self.inner.rooms.lock().await.len()
    }

    /// Waits until every message, annotation and notepad queued so far is written.
    pub async fn drain(&self) {
        while self.inner.pending.load(Ordering::Acquire) > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Persists every loaded room's notepad changes and waits until everything queued is
    /// written (a host shutting down).
    pub async fn flush(&self) {
        let rooms: Vec<mpsc::Sender<Command>> = self.inner.rooms.lock().await.values().cloned().collect();
        for tx in rooms {
            let _ = ask(&tx, Command::Flush).await;
        }
        self.drain().await;
    }

    /// The live notepad of a room as one Yjs update (loading the room if needed).
    pub async fn document(&self, room: &DealRoom) -> openinsure::Result<Vec<u8>> {
        let tx = self.room(room).await?;
        ask(&tx, Command::Document).await
    }

    async fn room(&self, room: &DealRoom) -> openinsure::Result<mpsc::Sender<Command>> {
        let mut rooms = self.inner.rooms.lock().await;
        if let Some(tx) = rooms.get(&room.id).filter(|tx| !tx.is_closed()) {
            return Ok(tx.clone());
        }
        let stored =
            openinsure_dealroom::store::load_room(self.inner.store.as_ref(), room, self.inner.config.hub.history)
                .await?;
        let hub = Hub::new(
            room.clone(),
            stored.participants,
            stored.recent,
            stored.annotations,
            &stored.document,
            self.inner.config.hub,
        )
        .map_err(backend)?;
        let (tx, rx) = mpsc::channel(1024);
        rooms.insert(room.id, tx.clone());
        tokio::spawn(run_room(self.inner.clone(), hub, room.org_id, rx));
        tracing::debug!(room_id = %room.id, "room loaded");
        Ok(tx)
    }

    /// Answers `GET /v1/deal-rooms/:id/connect`: checks the token (signature, expiry, this room)
    /// and the room before upgrading.
    pub async fn connect(
        &self,
        api: &Api,
        room_id: &str,
        query: Option<&str>,
        headers: &http::HeaderMap,
        upgrade: WebSocketUpgrade,
    ) -> Response {
        let refuse = |status: http::StatusCode, code: &'static str, message: &str| {
            api.host_error(headers, status, code, message).map(axum::body::Body::from)
        };
        let openinsure::api::Admission { room, user, state_vector } =
            match api.admit_room(room_id, query, headers).await {
                Ok(a) => a,
                Err(refusal) => return refusal.map(axum::body::Body::from),
            };
        let tx = match self.room(&room).await {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!(error = %e, room_id = %room.id, "room failed to load");
                return refuse(http::StatusCode::INTERNAL_SERVER_ERROR, "internal", "the room could not be loaded");
            }
        };
        let host = self.clone();
        upgrade
            .max_message_size(self.inner.config.max_message_bytes)
            .on_upgrade(move |socket| host.session(socket, tx, user, state_vector))
    }

    async fn session(
        self,
        socket: WebSocket,
        room: mpsc::Sender<Command>,
        user: UserId,
        state_vector: Option<Vec<u8>>,
    ) {
        let conn = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let (out_tx, mut out_rx) = mpsc::channel::<Frame>(self.inner.config.outbound_queue.max(1));
        let (close_tx, mut close_rx) = mpsc::channel::<CloseFrame>(2);
        let connect = Command::Connect { conn, user, state_vector, out: out_tx, close: close_tx.clone() };
        if room.send(connect).await.is_err() {
            return;
        }
        let (mut sink, mut stream) = socket.split();
        let started = Instant::now();
        let last_heard = Arc::new(AtomicI64::new(0));
        let heard = last_heard.clone();
        let ping_every = self.inner.config.ping_every;
        let mut writer = tokio::spawn(async move {
            let mut ping = tokio::time::interval(ping_every);
            ping.tick().await;
            loop {
                tokio::select! {
                    // a close the server decided on goes first, before the end of the queue
                    biased;
                    close = close_rx.recv() => {
                        if let Some(close) = close {
                            let _ = sink.send(Message::Close(Some(close))).await;
                            // keep the socket open a moment so the client reads the close frame
                            // before the kernel resets a connection with unread input
                            tokio::time::sleep(CLOSE_LINGER).await;
                        }
                        break;
                    }
                    frame = out_rx.recv() => {
                        let message = match frame {
                            Some(Frame::Text(t)) => Message::Text(t.as_ref().into()),
                            Some(Frame::Binary(b)) => Message::Binary(bytes::Bytes::copy_from_slice(&b)),
                            None => break,
                        };
                        if sink.send(message).await.is_err() {
                            break;
                        }
                    }
                    _ = ping.tick() => {
                        let silent_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX) - heard.load(Ordering::Relaxed);
                        if silent_ms > i64::try_from(ping_every.as_millis().saturating_mul(3)).unwrap_or(i64::MAX) {
                            let close = CloseFrame { code: close_code::AWAY, reason: "ping timeout".into() };
                            let _ = sink.send(Message::Close(Some(close))).await;
                            break;
                        }
                        if sink.send(Message::Ping(bytes::Bytes::new())).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = sink.close().await;
        });
        // the connection ends when the client closes or goes away, or when the writer gives up
        // on it (too slow, or silent past the ping timeout)
        let mut writer_done = false;
        let mut bucket = Throttle::new(self.inner.config.inbound_burst, self.inner.config.inbound_per_second);
        loop {
            // a client over its rate is not read from until the rate allows: slowed, not dropped
            if let Some(wait) = bucket.take(tokio::time::Instant::now()) {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = &mut writer => {
                        writer_done = true;
                        break;
                    }
                }
            }
            let message = tokio::select! {
                m = stream.next() => m,
                _ = &mut writer => {
                    writer_done = true;
                    break;
                }
            };
            let message = match message {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    // the transport refused the frame: over the size limit is 1009, as documented
                    let text = e.to_string();
                    let close = if text.contains("too long") || text.contains("Space limit") {
                        CloseFrame { code: close_code::SIZE, reason: "message too big".into() }
                    } else {
                        CloseFrame { code: close_code::PROTOCOL, reason: "protocol error".into() }
                    };
                    let _ = close_tx.try_send(close);
                    break;
                }
                None => break,
            };
            last_heard.store(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX), Ordering::Relaxed);
            let command = match message {
                Message::Text(t) => Command::Text { conn, text: t.as_str().to_owned() },
                Message::Binary(b) => Command::Binary { conn, bytes: b.to_vec() },
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if room.send(command).await.is_err() {
                break;
            }
        }
        let _ = room.send(Command::Disconnect { conn }).await;
        if !writer_done {
            let _ = writer.await;
        }
    }
}

async fn ask<T>(tx: &mpsc::Sender<Command>, make: impl FnOnce(Reply<T>) -> Command) -> openinsure::Result<T> {
    let (reply, answer) = oneshot::channel();
    tx.send(make(reply)).await.map_err(|_| backend("the room stopped"))?;
    answer.await.map_err(|_| backend("the room stopped"))
}

struct Conn {
    out: mpsc::Sender<Frame>,
    close: mpsc::Sender<CloseFrame>,
}

/// The rate of one connection's inbound frames, as a generic cell rate algorithm: every frame
/// pushes a theoretical arrival time one interval on; a frame that would put it more than
/// `burst` intervals ahead of now waits for the difference.
struct Throttle {
    interval: Duration,
    tolerance: Duration,
    tat: Option<tokio::time::Instant>,
}

impl Throttle {
    fn new(burst: u32, per_second: u32) -> Throttle {
        let interval = Duration::from_nanos(1_000_000_000 / u64::from(per_second.max(1)));
        Throttle { interval, tolerance: interval * burst.max(1), tat: None }
    }

    /// Accounts for the next frame; how long to wait before reading it, if at all.
    fn take(&mut self, now: tokio::time::Instant) -> Option<Duration> {
        let tat = self.tat.map_or(now, |t| t.max(now)) + self.interval;
        self.tat = Some(tat);
        let ahead = tat.saturating_duration_since(now);
        (ahead > self.tolerance).then(|| ahead - self.tolerance)
    }
}

/// Runs `f` off the runtime's worker threads when the runtime has several (a Yjs update or a
/// state-vector diff that may take milliseconds); inline on a current-thread runtime.
fn heavy<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

async fn run_room(inner: Arc<Inner>, mut hub: Hub, org: OrgId, mut rx: mpsc::Receiver<Command>) {
    let room_id = hub.room().id;
    let mut conns: HashMap<u64, Conn> = HashMap::new();
    let mut idle_since: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    loop {
        let command = match idle_since {
            Some(since) => tokio::select! {
                c = rx.recv() => c,
                () = tokio::time::sleep_until(since + inner.config.idle_unload) => {
                    let mut rooms = inner.rooms.lock().await;
                    if hub.connections() == 0 && rx.is_empty() {
                        if let Some(effect) = hub.flush() {
                            carry_out(&inner, org, &mut hub, &mut conns, vec![effect]);
                        }
                        rooms.remove(&room_id);
                        tracing::debug!(room_id = %room_id, "idle room unloaded");
                        return;
                    }
                    idle_since = None;
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(command) = command else { break };
        let now = inner.clock.now();
        let effects = match command {
            Command::Connect { conn, user, state_vector, out, close } => {
                conns.insert(conn, Conn { out, close });
                idle_since = None;
                match state_vector {
                    Some(sv) => heavy(|| hub.connect(conn, user, Some(&sv))),
                    None => hub.connect(conn, user, None),
                }
            }
            Command::Text { conn, text } if text.contains("\"sync\"") => {
                heavy(|| hub.text(conn, &text, inner.ids.as_ref(), now))
            }
            Command::Text { conn, text } => hub.text(conn, &text, inner.ids.as_ref(), now),
            Command::Binary { conn, bytes } if bytes.len() > inner.config.heavy_frame_bytes => {
                heavy(|| hub.binary(conn, &bytes))
            }
            Command::Binary { conn, bytes } => hub.binary(conn, &bytes),
            Command::Disconnect { conn } => {
                conns.remove(&conn);
                hub.disconnect(conn, now)
            }
            Command::State(reply) => {
                let _ = reply.send(hub.state());
                vec![]
            }
            Command::Messages(reply) => {
                let _ = reply.send(hub.messages().iter().cloned().collect());
                vec![]
            }
            Command::Post { member, input, reply } => {
                let mut effects = Vec::new();
                let _ = reply.send(hub.chat(&member, input, inner.ids.as_ref(), now, &mut effects));
                effects
            }
            Command::Annotations(reply) => {
                let _ = reply.send(hub.annotations().to_vec());
                vec![]
            }
            Command::Annotate { member, input, reply } => {
                let mut effects = Vec::new();
                let _ = reply.send(hub.annotate(&member, input, inner.ids.as_ref(), now, &mut effects));
                effects
            }
            Command::ChangeAnnotation { member, id, change, reply } => {
                let mut effects = Vec::new();
                let _ = reply.send(hub.change_annotation(&member, id, &change, now, &mut effects));
                effects
            }
            Command::Changed { room, participants } => {
                hub.set_room(room);
                hub.set_participants(participants);
                vec![]
            }
            Command::Document(reply) => {
                let _ = reply.send(hub.document());
                vec![]
            }
            Command::Flush(reply) => {
                let _ = reply.send(());
                hub.flush().into_iter().collect()
            }
        };
        if carry_out(&inner, org, &mut hub, &mut conns, effects) {
            idle_since = Some(tokio::time::Instant::now());
        }
    }
    if let Some(effect) = hub.flush() {
        carry_out(&inner, org, &mut hub, &mut conns, vec![effect]);
    }
}

/// Carries out effects; a client whose queue is full is disconnected (and its departure carried
/// out too). Returns whether the room became idle.
fn carry_out(inner: &Inner, org: OrgId, hub: &mut Hub, conns: &mut HashMap<u64, Conn>, effects: Vec<Effect>) -> bool {
    let mut idle = false;
    let mut queue = effects;
    while !queue.is_empty() {
        let mut slow = Vec::new();
        for effect in queue.drain(..) {
            match effect {
                Effect::Send { conn, frame } => {
                    if let Some(c) = conns.get(&conn)
                        && c.out.try_send(frame).is_err()
                    {
                        slow.push(conn);
                    }
                }
                Effect::PersistMessage(m) => persist(inner, Persist::Message(org, m)),
                Effect::PersistAnnotation(a) => persist(inner, Persist::Annotation(org, a)),
                Effect::PersistDocument(d) => persist(inner, Persist::Document(org, hub.room().id, d)),
                Effect::AppendDocument(d) => persist(inner, Persist::Append(org, hub.room().id, d)),
                Effect::Seen { user_id, at } => persist(inner, Persist::Seen(org, hub.room().id, user_id, at)),
                Effect::Idle => idle = true,
            }
        }
        let now = inner.clock.now();
        for conn in slow {
            if let Some(c) = conns.remove(&conn) {
                tracing::warn!(room_id = %hub.room().id, conn, "client too slow: disconnected");
                let close = CloseFrame { code: 1013, reason: "too slow: reconnect with your state vector".into() };
                let _ = c.close.try_send(close);
                queue.extend(hub.disconnect(conn, now));
            }
        }
    }
    idle
}

fn persist(inner: &Inner, job: Persist) {
    inner.pending.fetch_add(1, Ordering::AcqRel);
    if inner.persist.send(job).is_err() {
        inner.pending.fetch_sub(1, Ordering::AcqRel);
        tracing::error!("the persistence queue is closed");
    }
}

async fn persister(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Persist>) {
    while let Some(job) = rx.recv().await {
        let mut backoff = Duration::from_millis(10);
        loop {
            let store = &inner.store;
            let outcome = match &job {
                Persist::Message(org, m) => store.insert_message(*org, m).await,
                Persist::Annotation(org, a) => store.upsert_annotation(*org, a).await,
                Persist::Document(org, room, d) => store.save_document(*org, *room, d).await,
                Persist::Append(org, room, d) => store.append_document(*org, *room, d).await,
                Persist::Seen(org, room, user, at) => store.touch_participant(*org, *room, *user, *at).await,
            };
            match outcome {
                Ok(()) => {
                    if let (Persist::Message(org, m), Some(notifier)) = (&job, inner.mentions.get())
                        && let Err(e) = notifier.message_stored(*org, m).await
                    {
                        tracing::warn!(error = %e, message_id = %m.id, "mention notifications failed");
                    }
                    break;
                }
                Err(e) if openinsure_dealroom::store::worth_retrying(&e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "deal room write failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(error = %e, "deal room write refused for good");
                    break;
                }
            }
        }
        inner.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

fn refused(r: Refusal) -> openinsure::Error {
    openinsure::dealrooms::refusal(r)
}

#[async_trait]
impl RoomGateway for RoomHost {
    async fn state(&self, room: &DealRoom) -> openinsure::Result<RoomState> {
        ask(&self.room(room).await?, Command::State).await
    }

    async fn live_messages(&self, room: &DealRoom) -> openinsure::Result<Vec<ChatMessage>> {
        ask(&self.room(room).await?, Command::Messages).await
    }

    async fn post_message(&self, room: &DealRoom, member: Member, input: ChatInput) -> openinsure::Result<ChatMessage> {
        ask(&self.room(room).await?, |reply| Command::Post { member, input, reply }).await?.map_err(refused)
    }

    async fn annotations(&self, room: &DealRoom) -> openinsure::Result<Vec<Annotation>> {
        ask(&self.room(room).await?, Command::Annotations).await
    }

    async fn create_annotation(
        &self,
        room: &DealRoom,
        member: Member,
        input: AnnotationInput,
    ) -> openinsure::Result<Annotation> {
        ask(&self.room(room).await?, |reply| Command::Annotate { member, input, reply }).await?.map_err(refused)
    }

    async fn update_annotation(
        &self,
        room: &DealRoom,
        member: Member,
        id: AnnotationId,
        change: AnnotationChange,
    ) -> openinsure::Result<Annotation> {
        ask(&self.room(room).await?, |reply| Command::ChangeAnnotation { member, id, change, reply })
            .await?
            .map_err(refused)
    }

    async fn room_changed(&self, room: &DealRoom, participants: &[Participant]) -> openinsure::Result<()> {
        let tx = self.inner.rooms.lock().await.get(&room.id).cloned();
        if let Some(tx) = tx {
            let _ = tx.send(Command::Changed { room: room.clone(), participants: participants.to_vec() }).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_applies() {
        let t0 = tokio::time::Instant::now();
        let mut t = Throttle::new(3, 10);
        assert_eq!((t.take(t0), t.take(t0), t.take(t0)), (None, None, None), "the burst");
        assert_eq!(t.take(t0), Some(Duration::from_millis(100)));
        assert_eq!(t.take(t0), Some(Duration::from_millis(200)), "each frame waits its turn");
        // after a quiet second the burst is back
        let later = t0 + Duration::from_secs(2);
        assert_eq!((t.take(later), t.take(later), t.take(later)), (None, None, None));
        assert!(t.take(later).is_some());
    }
}

//! A MySQL-protocol client for where no driver runs: Cloudflare Workers, through Hyperdrive.
//!
//! sqlx and mysql_async sit on tokio's network stack, which does not exist on `wasm32`. This
//! client speaks the protocol over any byte stream ([`Connector`]: a `worker::Socket` on
//! Workers, a TCP stream natively, where the tests run it against MariaDB), on
//! [`mysql_common`]'s packets, handshake and authentication plugins (`mysql_native_password`,
//! `caching_sha2_password`, with the server's RSA key when the password is not cached).
//!
//! It uses only what Hyperdrive allows:
//! - **text queries** (`COM_QUERY`): the store's `?` parameters are written into the statement
//!   on the client, ids as hexadecimal literals, integers as digits, text quoted and escaped by
//!   `mysql_common` for the server's `NO_BACKSLASH_ESCAPES` mode; never a prepared statement;
//! - **one statement per query**: the client does not ask for `CLIENT_MULTI_STATEMENTS`, so the
//!   server refuses a second statement rather than running it;
//! - **no `USE`**: the database is named in the handshake;
//! - **transactions on one connection**: `BEGIN` … `COMMIT` on the socket that began them; a
//!   transaction dropped without its commit drops the connection, and the server rolls back.
//!
//! Session settings (`sql_mode`, the time zone) are sent after each connect when asked for
//! ([`WireOptions::session`]); through Hyperdrive, which pools per transaction, leave them empty
//! and set them on the database.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::{Buf as _, BytesMut};
use mysql_common::auth::plugins::{AuthProc, ChallengeResponsePlugin as _, Context, Response};
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize as _;
use mysql_common::proto::codec::PacketCodec;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::db::{DbError, Param};

/// A byte stream to the server.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + MaybeSend {}

impl<T: AsyncRead + AsyncWrite + Unpin + MaybeSend> Stream for T {}

#[cfg(not(target_arch = "wasm32"))]
/// `Send` natively; nothing on `wasm32`, where a socket belongs to its isolate.
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send> MaybeSend for T {}
#[cfg(target_arch = "wasm32")]
/// `Send` natively; nothing on `wasm32`, where a socket belongs to its isolate.
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T> MaybeSend for T {}

/// Opens a byte stream to the server: a TCP connection natively, a `worker::Socket` to the
/// Hyperdrive binding's host and port on Workers.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait Connector: std::fmt::Debug + openinsure_core::ports::MaybeSendSync {
    /// A new stream.
    async fn connect(&self) -> std::io::Result<Box<dyn Stream>>;
}

/// Who connects, to which database, and what each connection keeps.
#[derive(Clone)]
pub struct WireOptions {
    /// The user.
    pub user: String,
    /// The password (empty for none).
    pub password: String,
    /// The database, named in the handshake.
    pub database: String,
    /// Statements sent after each connect, each on its own (`SET SESSION sql_mode = '…'`).
    pub session: Vec<String>,
    /// Connections kept open for the next call. Keep 0 on Workers, where a socket cannot
    /// outlive the request that opened it (Hyperdrive pools on its side).
    pub max_idle: usize,
}

impl std::fmt::Debug for WireOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireOptions")
            .field("user", &self.user)
            .field("database", &self.database)
            .field("session", &self.session)
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

impl WireOptions {
    /// The options in a `mysql://user:password@host:port/database` URL (the password
    /// percent-decoded), and the host and port to connect to.
    pub fn from_url(url: &str) -> Result<(WireOptions, String, u16), DbError> {
        let bad = |why: &str| DbError::other(format!("database URL `{}`: {why}", crate::redact_url(url)));
        let rest = url.strip_prefix("mysql://").ok_or_else(|| bad("expected `mysql://`"))?;
        let (authority, database) = rest.split_once('/').ok_or_else(|| bad("no database named"))?;
        let database = database.split('?').next().unwrap_or_default();
        if database.is_empty() {
            return Err(bad("no database named"));
        }
        let (credentials, host) = authority.rsplit_once('@').unwrap_or(("", authority));
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        let (host, port) = match host.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| bad("the port is not a number"))?),
            None => (host, 3306),
        };
        let options = WireOptions {
            user: percent_decode(user).ok_or_else(|| bad("the user does not decode"))?,
            password: percent_decode(password).ok_or_else(|| bad("the password does not decode"))?,
            database: percent_decode(database).ok_or_else(|| bad("the database does not decode"))?,
            session: Vec::new(),
            max_idle: 0,
        };
        Ok((options, host.to_owned(), port))
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

const MAX_PACKET: u32 = 64 * 1024 * 1024;

/// One open connection.
pub struct Conn {
    stream: Box<dyn Stream>,
    codec: PacketCodec,
    inbound: BytesMut,
    capabilities: CapabilityFlags,
    status: StatusFlags,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("status", &self.status).finish_non_exhaustive()
    }
}

struct Auth<'a> {
    password: &'a [u8],
    scramble: &'a [u8],
    server_key: Option<&'a [u8]>,
}

impl Context for &Auth<'_> {
    fn pass(&self) -> &[u8] {
        self.password
    }
    fn is_ipc_transport(&self) -> bool {
        false
    }
    fn is_tls_transport(&self) -> bool {
        false
    }
    fn scramble(&self) -> &[u8] {
        self.scramble
    }
    fn server_key_pem(&self) -> Option<&[u8]> {
        self.server_key
    }
}

/// What one query answered: the rows of a result set, or the rows a statement affected.
#[derive(Debug, Default)]
pub struct Reply {
    /// The rows, each value as the server sent it (`None` for `NULL`).
    pub rows: Vec<Vec<Option<Vec<u8>>>>,
    /// Rows affected (matched, for an `UPDATE`), when the statement returned no rows.
    pub affected: u64,
}

fn broken(e: impl std::fmt::Display) -> DbError {
    DbError::unavailable(format!("database connection: {e}"))
}

fn malformed(what: &str) -> DbError {
    DbError::other(format!("database: a malformed {what} packet"))
}

/// The server's error in an `ERR` packet (`0xff`, code, `#` and SQL state, message).
fn server_error(packet: &[u8]) -> DbError {
    let mut buf = ParseBuf(packet);
    buf.skip(1);
    let Some(code) = buf.checked_eat_u16_le() else { return malformed("error") };
    let mut rest = buf.eat_all();
    if rest.first() == Some(&b'#') && rest.len() >= 6 {
        rest = &rest[6..];
    }
    DbError::server(code, &String::from_utf8_lossy(rest))
}

/// An `OK` (or end-of-rows) packet's affected rows and status.
fn ok_packet(packet: &[u8]) -> Result<(u64, StatusFlags), DbError> {
    let mut buf = ParseBuf(packet);
    buf.skip(1);
    let affected = buf.checked_eat_lenenc_int().ok_or_else(|| malformed("OK"))?;
    let _last_insert_id = buf.checked_eat_lenenc_int().ok_or_else(|| malformed("OK"))?;
    let status = buf.checked_eat_u16_le().ok_or_else(|| malformed("OK"))?;
    Ok((affected, StatusFlags::from_bits_truncate(status)))
}

fn is_eof(packet: &[u8]) -> bool {
    packet.first() == Some(&0xfe) && packet.len() < 9
}

impl Conn {
    /// Connects, authenticates and sends the session statements.
    pub async fn open(stream: Box<dyn Stream>, options: &WireOptions) -> Result<Conn, DbError> {
        let mut conn = Conn {
            stream,
            codec: PacketCodec::default(),
            inbound: BytesMut::with_capacity(4096),
            capabilities: CapabilityFlags::empty(),
            status: StatusFlags::empty(),
        };
        conn.codec.max_allowed_packet = MAX_PACKET as usize;
        conn.handshake(options).await?;
        for statement in &options.session {
            conn.query(statement).await?;
        }
        Ok(conn)
    }

    async fn read_packet(&mut self) -> Result<Vec<u8>, DbError> {
        let mut packet = Vec::new();
        loop {
            if self.codec.decode(&mut self.inbound, &mut packet).map_err(broken)? {
                return Ok(packet);
            }
            if self.stream.read_buf(&mut self.inbound).await.map_err(broken)? == 0 {
                return Err(broken("closed by the server"));
            }
        }
    }

    async fn write_packet(&mut self, payload: &[u8]) -> Result<(), DbError> {
        let mut out = BytesMut::with_capacity(payload.len() + 4);
        self.codec.encode(&mut &payload[..], &mut out).map_err(broken)?;
        while out.has_remaining() {
            let n = self.stream.write(&out).await.map_err(broken)?;
            if n == 0 {
                return Err(broken("closed while writing"));
            }
            out.advance(n);
        }
        self.stream.flush().await.map_err(broken)
    }

    async fn handshake(&mut self, options: &WireOptions) -> Result<(), DbError> {
        let packet = self.read_packet().await?;
        if packet.first() == Some(&0xff) {
            return Err(server_error(&packet));
        }
        let handshake: HandshakePacket<'_> = ParseBuf(&packet).parse(()).map_err(|_| malformed("handshake"))?;
        let wanted = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
            | CapabilityFlags::CLIENT_CONNECT_WITH_DB
            | CapabilityFlags::CLIENT_TRANSACTIONS
            | CapabilityFlags::CLIENT_LONG_PASSWORD
            | CapabilityFlags::CLIENT_LONG_FLAG;
        let server = handshake.capabilities();
        if !server.contains(CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_SECURE_CONNECTION) {
            return Err(DbError::other("database: the server does not speak protocol 4.1"));
        }
        self.capabilities = wanted & server;
        let nonce = handshake.nonce();
        let plugin = handshake.auth_plugin().unwrap_or(AuthPlugin::MysqlNativePassword).into_owned();
        let version = handshake.server_version_parsed().unwrap_or((5, 7, 0));
        let mut proc = AuthProc::init(&plugin).map_err(DbError::other)?;
        let mut auth = Auth { password: options.password.as_bytes(), scramble: &nonce, server_key: None };
        let first = proc.run(&auth, &nonce).map_err(DbError::other)?;
        // mysql_common names utf8mb4 as the connection's character set (servers from 5.5.3)
        let response = HandshakeResponse::new(
            first.data().map(<[u8]>::to_vec),
            version,
            Some(options.user.as_bytes().to_vec()),
            Some(options.database.as_bytes().to_vec()),
            Some(plugin),
            self.capabilities,
            None,
            MAX_PACKET,
        );
        let mut out = Vec::new();
        response.serialize(&mut out);
        self.write_packet(&out).await?;
        // the server answers OK, an error, a switch to another plugin, or more data for this one
        let mut scramble = nonce;
        let mut server_key: Option<Vec<u8>> = None;
        loop {
            let packet = self.read_packet().await?;
            let reply: Response = match packet.first() {
                Some(0x00) => {
                    let (_, status) = ok_packet(&packet)?;
                    self.status = status;
                    return Ok(());
                }
                Some(0xff) => return Err(server_error(&packet)),
                Some(0xfe) => {
                    let switch: AuthSwitchRequest<'_> =
                        ParseBuf(&packet).parse(()).map_err(|_| malformed("auth switch"))?;
                    proc = AuthProc::init(&switch.auth_plugin()).map_err(DbError::other)?;
                    scramble = switch.plugin_data().to_vec();
                    auth = Auth { password: options.password.as_bytes(), scramble: &scramble, server_key: None };
                    proc.run(&auth, &scramble).map_err(DbError::other)?
                }
                Some(0x01) => {
                    let data = packet.get(1..).unwrap_or_default();
                    if data.starts_with(b"-----BEGIN") {
                        server_key = Some(data.to_vec());
                    }
                    auth = Auth {
                        password: options.password.as_bytes(),
                        scramble: &scramble,
                        server_key: server_key.as_deref(),
                    };
                    proc.run(&auth, data).map_err(DbError::other)?
                }
                _ => return Err(malformed("authentication")),
            };
            if let Some(data) = reply.data() {
                let data = data.to_vec();
                self.write_packet(&data).await?;
            }
        }
    }

    /// Runs one statement (text protocol).
    pub async fn query(&mut self, sql: &str) -> Result<Reply, DbError> {
        self.codec.reset_seq_id();
        let mut command = Vec::with_capacity(sql.len() + 1);
        command.push(0x03); // COM_QUERY
        command.extend_from_slice(sql.as_bytes());
        self.write_packet(&command).await?;
        let first = self.read_packet().await?;
        match first.first() {
            Some(0x00) => {
                let (affected, status) = ok_packet(&first)?;
                self.status = status;
                return Ok(Reply { rows: Vec::new(), affected });
            }
            Some(0xff) => return Err(server_error(&first)),
            Some(0xfb) => return Err(DbError::other("database: LOAD DATA LOCAL is not allowed")),
            _ => {}
        }
        let columns = ParseBuf(&first).checked_eat_lenenc_int().ok_or_else(|| malformed("column count"))?;
        for _ in 0..columns {
            self.read_packet().await?;
        }
        if !is_eof(&self.read_packet().await?) {
            return Err(malformed("end of columns"));
        }
        let mut rows = Vec::new();
        loop {
            let packet = self.read_packet().await?;
            if is_eof(&packet) {
                let mut buf = ParseBuf(&packet);
                buf.skip(1);
                let _warnings = buf.checked_eat_u16_le();
                if let Some(status) = buf.checked_eat_u16_le() {
                    self.status = StatusFlags::from_bits_truncate(status);
                }
                return Ok(Reply { rows, affected: 0 });
            }
            if packet.first() == Some(&0xff) {
                return Err(server_error(&packet));
            }
            let mut buf = ParseBuf(&packet);
            let mut row = Vec::with_capacity(usize::try_from(columns).unwrap_or_default());
            for _ in 0..columns {
                if buf.0.first() == Some(&0xfb) {
                    buf.skip(1);
                    row.push(None);
                } else {
                    row.push(Some(buf.checked_eat_lenenc_str().ok_or_else(|| malformed("row"))?.to_vec()));
                }
            }
            rows.push(row);
        }
    }

    /// `sql` with its `?` placeholders replaced by `params`, written for this server's escaping
    /// mode.
    pub fn interpolate(&self, sql: &str, params: &[Param]) -> Result<String, DbError> {
        interpolate(sql, params, self.status.contains(StatusFlags::SERVER_STATUS_NO_BACKSLASH_ESCAPES))
    }

    /// Says goodbye (`COM_QUIT`) and closes the stream: a host that counts open connections (a
    /// Worker may hold six at once) gets this one back now, not when it is collected.
    pub async fn close(mut self) {
        self.codec.reset_seq_id();
        let _ = self.write_packet(&[0x01]).await;
        let _ = self.stream.shutdown().await;
    }

    /// Whether a transaction is open on this connection.
    pub fn in_transaction(&self) -> bool {
        self.status.contains(StatusFlags::SERVER_STATUS_IN_TRANS)
    }
}

/// `sql` with each `?` outside quotes and comments replaced by the next parameter: `NULL`,
/// digits, an `X'…'` literal for bytes, a quoted and escaped string for text. The number of
/// placeholders must equal the number of parameters.
pub fn interpolate(sql: &str, params: &[Param], no_backslash_escapes: bool) -> Result<String, DbError> {
    let mut out = String::with_capacity(sql.len() + params.len() * 16);
    let mut params = params.iter();
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' && q != '`' && !no_backslash_escapes {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' => {
                    let p = params.next().ok_or_else(|| DbError::other("database: more `?` than parameters"))?;
                    match p {
                        Param::Null => out.push_str("NULL"),
                        Param::Int(n) => out.push_str(&n.to_string()),
                        Param::Bytes(b) => {
                            out.push_str("X'");
                            for byte in b {
                                out.push_str(&format!("{byte:02X}"));
                            }
                            out.push('\'');
                        }
                        Param::Text(t) => out
                            .push_str(&mysql_common::Value::Bytes(t.as_bytes().to_vec()).as_sql(no_backslash_escapes)),
                    }
                }
                _ => out.push(c),
            },
        }
    }
    if params.next().is_some() {
        return Err(DbError::other("database: more parameters than `?`"));
    }
    Ok(out)
}

/// Connections to one database, opened on demand through a [`Connector`].
#[derive(Clone, Debug)]
pub struct WirePool {
    connector: Arc<dyn Connector>,
    options: Arc<WireOptions>,
    idle: Arc<Mutex<VecDeque<Conn>>>,
}

impl WirePool {
    /// A pool that opens its connections with `connector`.
    pub fn new(connector: Arc<dyn Connector>, options: WireOptions) -> WirePool {
        WirePool { connector, options: Arc::new(options), idle: Arc::default() }
    }

    /// A connection: an idle one, or a new one.
    pub async fn get(&self) -> Result<Conn, DbError> {
        let idle = self.idle.lock().ok().and_then(|mut q| q.pop_front());
        if let Some(conn) = idle {
            return Ok(conn);
        }
        let stream = self.connector.connect().await.map_err(broken)?;
        Conn::open(stream, &self.options).await
    }

    /// Gives a connection back: kept if the pool has room and it is not in a transaction,
    /// closed otherwise.
    pub async fn put(&self, conn: Conn) {
        let conn = match self.idle.lock() {
            Ok(mut q) if !conn.in_transaction() && q.len() < self.options.max_idle => {
                q.push_back(conn);
                return;
            }
            _ => conn,
        };
        conn.close().await;
    }

    /// Closes the idle connections.
    pub fn close(&self) {
        if let Ok(mut q) = self.idle.lock() {
            q.clear();
        }
    }

    /// Runs one statement on a connection of the pool, outside a transaction.
    pub async fn run(&self, sql: &str, params: &[Param]) -> Result<Reply, DbError> {
        let mut conn = self.get().await?;
        let sql = conn.interpolate(sql, params)?;
        let reply = conn.query(&sql).await?;
        self.put(conn).await;
        Ok(reply)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    #[test]
    fn interpolates_each_kind_outside_quotes() {
        let sql = "SELECT '?', `a?` FROM t WHERE a = ? AND b = ? AND c = ? AND d = ?";
        let params = [Param::Int(-7), Param::Bytes(vec![0, 0xab]), Param::Text("o'k\\".into()), Param::Null];
        assert_eq!(
            interpolate(sql, &params, false).unwrap(),
            "SELECT '?', `a?` FROM t WHERE a = -7 AND b = X'00AB' AND c = 'o\\'k\\\\' AND d = NULL"
        );
        assert_eq!(interpolate("SELECT ?", &[Param::Text("o'k\\".into())], true).unwrap(), "SELECT 'o''k\\'");
    }

    #[test]
    fn refuses_a_count_mismatch() {
        assert!(interpolate("SELECT ?, ?", &[Param::Int(1)], false).is_err());
        assert!(interpolate("SELECT 1", &[Param::Int(1)], false).is_err());
    }

    #[test]
    fn reads_a_url() {
        let (o, host, port) = WireOptions::from_url("mysql://app:p%40ss@db.example:3307/book?x=1").unwrap();
        assert_eq!((o.user.as_str(), o.password.as_str(), o.database.as_str()), ("app", "p@ss", "book"));
        assert_eq!((host.as_str(), port), ("db.example", 3307));
        assert!(WireOptions::from_url("mysql://root@127.0.0.1:3306/").is_err());
        // a malformed escape is refused, not passed on as typed
        assert!(WireOptions::from_url("mysql://app:p%zzss@db:3306/book").is_err());
        assert!(WireOptions::from_url("mysql://app:p%4@db:3306/book").is_err());
        assert!(WireOptions::from_url("mysql://app@db:port/book").is_err());
        assert!(WireOptions::from_url("postgres://x/y").is_err());
    }
}

//! `openinsure serve`, `openinsure migrate` and `openinsure token`: the HTTP API on the system
//! of record (SQLite in a data directory by default, or a MySQL-protocol database) with the
//! ledger in memory or on a TigerBeetle cluster, and development tokens for it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openinsure::api::{Api, ApiConfig, RateLimit};
use openinsure::dispatch::Dispatcher;
use openinsure::ledger::LedgerSubscriber;
use openinsure::notifications::{Mailer, MentionNotifier, Notifier};
use openinsure::system::{SystemClock, UuidV7};
use openinsure::webhooks::{WebhookDeliverer, WebhookFanout};
use openinsure::{App, Ports};
use openinsure_auth::TokenKeys;
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_ledger::LedgerBackend;
use openinsure_sql::SqlStore;

use crate::Failure;
use crate::demo;

/// The example org `serve` sets up (unless `--empty`), with fixed ids so the README's walk-through
/// can name them.
pub const EXAMPLE_ORG: u128 = 0x0192_f0c0_0000_7000_8000_0000_0000_00a0;

/// How `serve` runs.
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub key_file: PathBuf,
    pub rate_limit: u32,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub empty: bool,
    /// Where clients reach the server (`https://api.example.com`); the listening address when
    /// absent.
    pub public_url: Option<String>,
    /// The system of record.
    pub database: Database,
    /// Apply missing migrations at start.
    pub migrate: bool,
    /// How often the clock's transitions run (never when absent).
    pub tick_every: Option<Duration>,
    /// The clock's rules.
    pub tick_rules: openinsure_core::policy::tick::TickRules,
    /// Publish events to NATS JetStream at this URL.
    pub nats: Option<String>,
    /// Which webhook targets are allowed (endpoints and every attempt).
    pub webhook_rules: openinsure_webhooks::TargetRules,
    /// Email notifications through this SMTP server (none: notifications stay in the queue).
    pub smtp: Option<openinsure_smtp::SmtpConfig>,
}

/// Where the system of record is.
#[derive(Clone, Debug)]
pub struct Database {
    /// A database URL (`--database`), or none for SQLite in `data_dir`.
    pub url: Option<String>,
    /// The data directory of the embedded default.
    pub data_dir: PathBuf,
}

impl Database {
    /// `--database memory`: every store in process, nothing kept (for load tests and trials).
    pub fn is_memory(&self) -> bool {
        self.url.as_deref() == Some("memory")
    }

    /// The URL to open: `--database`, or `sqlite://<data-dir>/openinsure.db`.
    pub fn url(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("openinsure.db").display()),
        }
    }

    /// Opens the database (creating the data directory of the embedded default), migrating it
    /// unless `migrate` is false.
    pub async fn open(&self, migrate: bool) -> Result<SqlStore, Failure> {
        if self.url.is_none() {
            std::fs::create_dir_all(&self.data_dir)
                .map_err(|e| Failure(format!("{}: {e}", self.data_dir.display())))?;
        }
        let url = self.url();
        let store = SqlStore::connect(&url).await.map_err(|e| Failure(e.to_string()))?;
        if migrate {
            store.migrate().await.map_err(|e| Failure(e.to_string()))?;
        }
        Ok(store)
    }
}

/// `openinsure migrate`: applies the migrations the database lacks.
pub fn migrate(database: &Database) -> Result<String, Failure> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Failure(e.to_string()))?;
    runtime.block_on(async {
        let store = database.open(true).await?;
        store.close().await;
        Ok(format!("{}: migrated", openinsure_sql::redact_url(&database.url())))
    })
}

/// The WebSocket origin of a public URL: `https://h` -> `wss://h`, `http://h` -> `ws://h`.
pub fn ws_origin(public_url: &str) -> Result<String, Failure> {
    let url = public_url.trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Failure(format!("--public-url `{public_url}`: expected http://host or https://host")))?;
    let ws = match scheme {
        "https" | "wss" => "wss",
        "http" | "ws" => "ws",
        _ => return Err(Failure(format!("--public-url `{public_url}`: the scheme must be http or https"))),
    };
    let host_ok = !rest.is_empty()
        && !rest.contains('/')
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !host_ok {
        return Err(Failure(format!("--public-url `{public_url}`: expected a scheme and a host, no path")));
    }
    Ok(format!("{ws}://{rest}"))
}

/// Where the development signing key lives unless `--signing-key-file` says otherwise.
pub fn default_key_file() -> PathBuf {
    if let Some(p) = std::env::var_os("OPENINSURE_SIGNING_KEY_FILE") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("openinsure").join("dev-signing-key")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the signing key, or (`create`) generates a random one and writes it (mode 0600).
fn signing_key(path: &Path, create: bool) -> Result<TokenKeys, Failure> {
    let secret = match std::fs::read_to_string(path) {
        Ok(text) => {
            return TokenKeys::from_hex("dev", &text).map_err(|e| Failure(format!("{}: {e}", path.display())));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let mut secret = Vec::with_capacity(32);
            secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
            secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Failure(format!("{}: {e}", dir.display())))?;
            }
            write_private(path, &hex(&secret))?;
            eprintln!("generated a development signing key in {}", path.display());
            secret
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure(format!(
                "{}: no signing key (start `openinsure serve` first, or pass --signing-key-file)",
                path.display()
            )));
        }
        Err(e) => return Err(Failure(format!("{}: {e}", path.display()))),
    };
    TokenKeys::new("dev", &secret).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
    f.write_all(text.as_bytes()).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

/// `openinsure token`: a token for the development key.
pub fn token(
    key_file: &Path,
    org: &str,
    role: &str,
    user: Option<&str>,
    mfa: bool,
    hours: u32,
) -> Result<String, Failure> {
    let keys = signing_key(key_file, false)?.with_lifetime(chrono::Duration::hours(i64::from(hours.max(1))));
    let org: OrgId = org.parse().map_err(|_| Failure(format!("--org: `{org}` is not a valid id")))?;
    let role: Role = role.parse().map_err(|e| Failure(format!("--role: {e}")))?;
    let user: UserId = match user {
        Some(u) => u.parse().map_err(|_| Failure(format!("--user: `{u}` is not a valid id")))?,
        None => UserId::from_uuid(uuid::Uuid::now_v7()),
    };
    let caller = Caller::new(user, org, role).with_mfa(mfa);
    keys.issue(&caller, chrono::Utc::now()).map_err(|e| Failure(e.to_string()))
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(0x0192_f0c0_0000_7000_8000_0000_0000_0000 + n))
}

/// `openinsure serve`.
pub fn serve(options: ServeOptions, ledger: Arc<dyn LedgerBackend>) -> Result<(), Failure> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENINSURE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Failure(e.to_string()))?;
    runtime.block_on(run(options, ledger))
}

async fn run(options: ServeOptions, ledger: Arc<dyn LedgerBackend>) -> Result<(), Failure> {
    let keys = signing_key(&options.key_file, true)?;
    let sql = if options.database.is_memory() {
        println!("system of record: memory (nothing is kept after a stop)");
        None
    } else {
        let store = options.database.open(options.migrate).await?;
        println!("system of record: {}", openinsure_sql::redact_url(&options.database.url()));
        Some(store)
    };
    let mut ports = Ports::in_memory(Arc::new(SystemClock), Arc::new(UuidV7));
    ports.ledger = ledger.clone();
    let idempotency: Arc<dyn openinsure_core::idempotency::IdempotencyStore> = match &sql {
        Some(store) => {
            ports.store = Arc::new(store.clone());
            ports.authorizer = Arc::new(store.clone());
            ports.audit = Arc::new(store.clone());
            ports.rooms = Arc::new(store.clone());
            Arc::new(store.clone())
        }
        None => Arc::new(openinsure_memory::MemoryIdempotency::default()),
    };
    let deal_rooms = ports.rooms.clone();
    let rooms = openinsure_axum::RoomHost::new(
        deal_rooms.clone(),
        Arc::new(UuidV7),
        Arc::new(SystemClock),
        openinsure_axum::RoomHostConfig::default(),
    );
    let app = App::new(ports, Arc::new(demo::rate_book()?))
        .with_room_gateway(Arc::new(rooms.clone()))
        .with_webhook_rules(options.webhook_rules);
    rooms.notify_mentions(MentionNotifier::new(app.backend().clone(), deal_rooms.clone(), app.clock().clone()));
    let org = OrgId::from_uuid(uuid::Uuid::from_u128(EXAMPLE_ORG));
    let admin = Caller::new(user(0xa4), org, Role::Admin);
    // the example org once: a restart on the same data finds it there
    let set_up = !app
        .agreements(&admin, openinsure_core::store::Page::first())
        .await
        .map_err(|e| Failure(format!("reading the example org: {e}")))?
        .is_empty();
    if !options.empty && !set_up {
        let underwriter = Caller::new(user(0xa2), org, Role::Underwriter);
        let senior = Caller::new(user(0xa3), org, Role::Underwriter);
        demo::setup(&app, &admin, &[(&underwriter, 1), (&senior, 2)], false).await?;
        println!(
            "example org {org}: a GL DA agreement; underwriter {} (authority level 1), senior underwriter {} (level 2)",
            underwriter.user_id, senior.user_id
        );
    }
    let rate_limit = (options.rate_limit > 0)
        .then(|| RateLimit { per_second: options.rate_limit, burst: options.rate_limit.saturating_mul(2) });
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", options.addr)))?;
    let local = listener.local_addr().map_err(|e| Failure(e.to_string()))?;
    let public_ws_origin = match &options.public_url {
        Some(url) => ws_origin(url)?,
        None => format!("ws://{local}"),
    };
    let config = ApiConfig {
        public_ws_origin,
        max_body_bytes: options.max_body_bytes,
        rate_limit,
        idempotency_lease: chrono::Duration::from_std(options.request_timeout * 2)
            .unwrap_or(chrono::Duration::seconds(60)),
        ..ApiConfig::default()
    };
    let api = Api::new(app.clone(), keys, idempotency).with_config(config);
    let host = openinsure_axum::HostConfig { request_timeout: options.request_timeout };
    let live = openinsure_axum::LiveHub::default();
    let router = openinsure_axum::router_with_live(api, host, rooms.clone(), live.clone());
    println!("listening on http://{local} (signing key {})", options.key_file.display());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let webhooks: Arc<dyn openinsure_webhooks::WebhookStore> = app.backend().clone();
    let mut dispatcher = Dispatcher::new(app.backend().clone())
        .subscribe(Arc::new(LedgerSubscriber::new(ledger)))
        .subscribe(Arc::new(WebhookFanout::new(webhooks.clone(), app.clock().clone())))
        .subscribe(Arc::new(Notifier::new(app.backend().clone(), app.clock().clone())))
        .subscribe(Arc::new(live.clone()));
    if let Some(url) = &options.nats {
        let nats = openinsure_nats::JetStreamPublisher::connect(url, openinsure_nats::JetStreamOptions::default())
            .await
            .map_err(|e| Failure(format!("--nats {url}: {e}")))?;
        dispatcher = dispatcher.subscribe(Arc::new(nats));
        println!("publishing events to NATS JetStream at {url}");
    }
    let mut stop = stop_rx.clone();
    let delivery = tokio::spawn(openinsure_axum::run_dispatcher(dispatcher, Duration::from_millis(100), async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    let sender = openinsure_webhook_http::HttpSender::new(openinsure_webhook_http::SenderConfig {
        rules: options.webhook_rules,
        ..openinsure_webhook_http::SenderConfig::default()
    })
    .map_err(|e| Failure(e.to_string()))?;
    let deliverer = WebhookDeliverer::new(webhooks, Arc::new(sender), app.clock().clone(), app.ids().clone());
    let mut stop = stop_rx.clone();
    let webhook_delivery =
        tokio::spawn(openinsure_axum::run_webhooks(deliverer, Duration::from_millis(250), async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
    let mail = match &options.smtp {
        Some(config) => {
            let sender =
                openinsure_smtp::SmtpSender::new(config.clone()).map_err(|e| Failure(format!("--smtp: {e}")))?;
            let mailer = Mailer::new(app.backend().clone(), Arc::new(sender), app.clock().clone(), app.ids().clone());
            println!("emailing notifications through {}", openinsure_sql::redact_url(&config.url));
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(openinsure_axum::run_mailer(mailer, Duration::from_secs(1), async move {
                let _ = stop.wait_for(|s| *s).await;
            })))
        }
        None => None,
    };
    let clock = options.tick_every.map(|every| {
        let mut stop = stop_rx.clone();
        tokio::spawn(openinsure_axum::run_clock(app.clone(), options.tick_rules, every, async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    });
    let hub = live.clone();
    let signal = async move {
        openinsure_axum::shutdown_signal().await;
        // open live subscriptions end, or the server would wait for them
        hub.close();
    };
    let served = openinsure_axum::serve(listener, router, signal).await;
    let _ = stop_tx.send(true);
    let _ = delivery.await;
    let _ = webhook_delivery.await;
    if let Some(mail) = mail {
        let _ = mail.await;
    }
    if let Some(clock) = clock {
        let _ = clock.await;
    }
    rooms.flush().await;
    if let Some(store) = sql {
        store.close().await;
    }
    println!("stopped");
    served.map_err(|e| Failure(e.to_string()))
}

/// Serves the ledger's HTTP proxy on `addr` until Ctrl-C or SIGTERM.
pub fn ledger_proxy(
    addr: std::net::SocketAddr,
    backend: std::sync::Arc<dyn openinsure_ledger::LedgerBackend>,
    key: openinsure_ledger::remote::ServiceKey,
) -> Result<(), Failure> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Failure(e.to_string()))?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| Failure(format!("listen on {addr}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| Failure(e.to_string()))?;
        println!("ledger proxy on http://{bound}{}", openinsure_ledger::remote::PATH);
        openinsure_axum::serve(
            listener,
            openinsure_axum::ledger_proxy(backend, key),
            openinsure_axum::shutdown_signal(),
        )
        .await
        .map_err(|e| Failure(e.to_string()))
    })
}

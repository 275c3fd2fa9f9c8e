//! The `openinsure` command.

mod audit;
mod demo;
mod events;
mod render;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the server's many small, short-lived allocations (request and response buffers,
/// JSON values) cost less than with the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use openinsure_core::ids::{OrgId, SubmissionId, UserId};
use openinsure_core::quote::Schedule;
use openinsure_core::submission::Submission;
use openinsure_rating::{RateTable, RatingError, rate};

#[derive(Parser)]
#[command(name = "openinsure", version, about = "OpenInsure for Rust: rating, underwriting and policy administration")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rates a submission on a rate table and prints the worksheet.
    Rate {
        /// The rate table (JSON).
        #[arg(long)]
        rate_table: PathBuf,
        /// The submission (JSON, as `POST /v1/submissions` takes it).
        #[arg(long)]
        submission: PathBuf,
        /// Schedule credits and debits (JSON `{"adjustments": [...]}`).
        #[arg(long)]
        schedule: Option<PathBuf>,
        /// Print JSON (amounts in integer cents, fields ending in `Cents`).
        #[arg(long)]
        json: bool,
    },
    /// Rate-table tools.
    RateTable {
        #[command(subcommand)]
        command: RateTableCommand,
    },
    /// Takes an example submission through intake, rating, bind, a referral and the ledger on the
    /// in-memory stores.
    Demo {
        /// Book on the TigerBeetle cluster at this address instead of the in-memory engine.
        #[arg(long, value_name = "ADDR")]
        tigerbeetle: Option<String>,
    },
    /// Serves the HTTP API (and `GET /openapi.json`) on the system of record (SQLite in the data
    /// directory by default, created and migrated on first start), an example org, a development
    /// signing key generated on first start.
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        addr: std::net::SocketAddr,
        /// Book on the TigerBeetle cluster at this address instead of the in-memory engine.
        #[arg(long, value_name = "ADDR")]
        tigerbeetle: Option<String>,
        /// Publish every domain event to NATS JetStream at this URL (`nats://127.0.0.1:4222`),
        /// stream `OPENINSURE_EVENTS`, subjects `openinsure.events.<org>.<type>`, once per event id.
        #[arg(long, value_name = "URL")]
        nats: Option<String>,
        /// Let webhook endpoints use plain `http` and private addresses (loopback, private
        /// networks): for endpoints inside a private network and for tests. Without it, only
        /// `https` URLs on public addresses are accepted and connected to.
        #[arg(long, env = "OPENINSURE_WEBHOOKS_ALLOW_PRIVATE")]
        webhooks_allow_private: bool,
        /// Email notifications through this SMTP server: `smtp://user:password@host:587`
        /// (STARTTLS), `smtps://host:465`, or `smtp://host:port?tls=none` (a local relay).
        #[arg(long, value_name = "URL", env = "OPENINSURE_SMTP_URL", requires = "smtp_from")]
        smtp: Option<String>,
        /// The `From` of notification emails (`OpenInsure <notices@example.com>`).
        #[arg(long, value_name = "ADDRESS", env = "OPENINSURE_SMTP_FROM")]
        smtp_from: Option<String>,
        /// The signing key (hex); generated there when missing.
        #[arg(long, value_name = "FILE")]
        signing_key_file: Option<PathBuf>,
        /// Requests per second per caller (bursts of twice that); 0 turns the limit off.
        #[arg(long, default_value_t = 100)]
        rate_limit: u32,
        /// The largest request body, in bytes.
        #[arg(long, default_value_t = 1 << 20)]
        max_body_bytes: usize,
        /// Seconds a request may take before it is answered 503.
        #[arg(long, default_value_t = 30)]
        request_timeout_secs: u64,
        /// Start without the example org.
        #[arg(long)]
        empty: bool,
        /// The public URL clients reach the server at (`https://api.example.com`): deal room
        /// WebSocket URLs are built from it (`wss://` for `https://`), never from a request's
        /// `Host` header. Default: the address listened on.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Do not apply missing migrations at start (run `openinsure migrate` instead).
        #[arg(long)]
        no_migrate: bool,
        /// Seconds between runs of the clock's transitions (activation, non-payment, expiry,
        /// renewal offers); 0 turns them off.
        #[arg(long, default_value_t = 60)]
        tick_every_secs: u64,
        /// Days an installment may stay unpaid past its due date before a notice of cancellation.
        #[arg(long, default_value_t = 15)]
        grace_days: u32,
        /// Days from a notice of cancellation for non-payment to the cancellation.
        #[arg(long, default_value_t = 10)]
        notice_days: u32,
        /// Days before expiration a renewal offer is made.
        #[arg(long, default_value_t = 60)]
        renewal_offer_days: u32,
    },
    /// Serves the ledger to service callers over HTTP (`POST /ledger/v1/call`), as a Cloudflare
    /// Worker reaches TigerBeetle. Callers present the service key in
    /// `OPENINSURE_LEDGER_SERVICE_KEY` (32 bytes or more) as a bearer token; listen only where
    /// they alone reach it.
    LedgerProxy {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8790")]
        addr: std::net::SocketAddr,
        /// The TigerBeetle cluster to serve (the in-memory engine without it: for development).
        #[arg(long, value_name = "ADDR")]
        tigerbeetle: Option<String>,
    },
    /// Applies the migrations the system of record lacks.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Prints a bearer token signed with the development key of `openinsure serve`.
    Token {
        /// The org id.
        #[arg(long)]
        org: String,
        /// The role (`producer`, `underwriter`, `adjuster`, `admin`, ...).
        #[arg(long)]
        role: String,
        /// The user id (a new one when absent).
        #[arg(long)]
        user: Option<String>,
        /// The session used multi-factor authentication.
        #[arg(long)]
        mfa: bool,
        /// Hours until it expires.
        #[arg(long, default_value_t = 8)]
        hours: u32,
        /// The signing key (hex) `serve` uses.
        #[arg(long, value_name = "FILE")]
        signing_key_file: Option<PathBuf>,
    },
    /// Ledger reports.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// The PHI audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// A DA agreement's premium (risk) bordereau for a month as CSV, its claims bordereau with
    /// `--claims`, or both with their totals as JSON with `--json`.
    Bordereau {
        /// The org.
        #[arg(long)]
        org: String,
        /// The DA agreement.
        #[arg(long)]
        agreement: String,
        /// The month, `YYYY-MM`.
        #[arg(long)]
        month: String,
        /// The claims bordereau instead of the premium one.
        #[arg(long)]
        claims: bool,
        /// Both, with their totals, as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Domain events the dispatcher gave up on.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Lists an org's dead letters: events the dispatcher gave up on, with why.
    DeadLetters {
        /// The org.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Puts a dead event back to be delivered as a new attempt (booked once on the ledger).
    Replay {
        /// The event id.
        id: String,
        /// The org it belongs to.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Where the system of record is.
#[derive(clap::Args)]
struct DatabaseArgs {
    /// A database URL: `sqlite://path/to/file.db`, or `mysql://user:password@host:3306/db`
    /// (PlanetScale / Vitess, MariaDB), or `memory` (nothing is kept after a stop). Default:
    /// SQLite in the data directory.
    #[arg(long, value_name = "URL", env = "OPENINSURE_DATABASE_URL")]
    database: Option<String>,
    /// The data directory of the embedded default (SQLite, WAL mode).
    #[arg(long, value_name = "DIR", default_value = "openinsure-data")]
    data_dir: PathBuf,
}

impl DatabaseArgs {
    fn into_database(self) -> serve::Database {
        serve::Database { url: self.database, data_dir: self.data_dir }
    }
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verifies a PHI audit log chain, from a file (a JSON array of entries of one org) or in the
    /// system of record (`--org`): every hash, every link, the order. Exits non-zero naming the
    /// first broken entry.
    Verify {
        /// The log (JSON); without it, org `--org`'s chain in the database.
        file: Option<PathBuf>,
        /// The org whose chain to verify in the database.
        #[arg(long, required_unless_present = "file")]
        org: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Prints a small valid example chain, to try `audit verify` on.
    Example,
    /// The retention: removes every org's whole months of the audit log older than seven years,
    /// and records each removal. Run it as a database user allowed to delete from the audit log.
    Purge {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The day to count the seven years back from (default: today, UTC).
        #[arg(long, value_name = "YYYY-MM-DD")]
        today: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// The trial balance of the example org (its down payment booked on the embedded in-memory
    /// engine).
    TrialBalance {
        /// Print JSON (amounts in integer cents).
        #[arg(long)]
        json: bool,
        /// Book on the TigerBeetle cluster at this address instead of the in-memory engine.
        #[arg(long, value_name = "ADDR")]
        tigerbeetle: Option<String>,
    },
    /// The journal of the example org.
    Journal {
        /// Print JSON (amounts in integer cents).
        #[arg(long)]
        json: bool,
        /// Book on the TigerBeetle cluster at this address instead of the in-memory engine.
        #[arg(long, value_name = "ADDR")]
        tigerbeetle: Option<String>,
    },
}

#[derive(Subcommand)]
enum RateTableCommand {
    /// Checks a rate table and lists every problem.
    Validate {
        /// The rate table (JSON).
        file: PathBuf,
    },
    /// Prints the JSON Schema of rate tables.
    Schema,
}

/// A failure to report: which file, what went wrong.
struct Failure(String);

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure(format!("{}: cannot read: {e}", path.display())))
}

fn read_json(path: &Path) -> Result<serde_json::Value, Failure> {
    openinsure_core::json::parse_str(&read(path)?, 64)
        .map_err(|e| Failure(format!("{}: not valid JSON: {e}", path.display())))
}

fn table_error(path: &Path, e: RatingError) -> Failure {
    match e {
        RatingError::Table(errors) => Failure(
            errors
                .iter()
                .map(|f| format!("{}: `{}`: {}", path.display(), f.path, f.reason))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => Failure(format!("{}: {other}", path.display())),
    }
}

fn load_table(path: &Path) -> Result<RateTable, Failure> {
    RateTable::from_json(&read(path)?).map_err(|e| table_error(path, e))
}

fn run_rate(table: &Path, submission: &Path, schedule: Option<&Path>, json: bool) -> Result<(), Failure> {
    let table_data = load_table(table)?;
    let input = read_json(submission)?;
    let nil = uuid::Uuid::nil();
    let sub = Submission::intake_json(
        SubmissionId::from_uuid(nil),
        OrgId::from_uuid(nil),
        UserId::from_uuid(nil),
        chrono::Utc::now(),
        &input,
    )
    .map_err(|errors| {
        Failure(
            errors
                .iter()
                .map(|f| format!("{}: `{}`: {}", submission.display(), f.path, f.reason))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let schedule_data: Schedule = match schedule {
        Some(path) => openinsure_core::json::from_value(read_json(path)?)
            .map_err(|(field, reason)| Failure(format!("{}: `{field}`: {reason}", path.display())))?,
        None => Schedule::none(),
    };
    let rating = rate(&sub, &table_data, &schedule_data).map_err(|e| match e {
        RatingError::Invalid { field, reason } => {
            let file = if field.starts_with("rateTable.") {
                table
            } else if field.starts_with("schedule.") {
                schedule.unwrap_or(submission)
            } else {
                submission
            };
            Failure(format!("{}: `{field}`: {reason}", file.display()))
        }
        other => Failure(format!("{}: {other}", submission.display())),
    })?;
    if json {
        let text = serde_json::to_string_pretty(&rating).map_err(|e| Failure(e.to_string()))?;
        emit(&text);
    } else {
        println!("{} ({}, {}, NAICS {})", sub.insured_name, sub.line_of_business, sub.risk_state, sub.naics_code);
        print!("{}", render::worksheet(&rating));
    }
    Ok(())
}

/// The ledger engine: in memory, or the TigerBeetle cluster at `address`.
fn ledger_backend(address: Option<&str>) -> Result<std::sync::Arc<dyn openinsure_ledger::LedgerBackend>, Failure> {
    match address {
        None => Ok(std::sync::Arc::new(openinsure_memory::MemoryLedger::new())),
        #[cfg(feature = "tigerbeetle")]
        Some(a) => openinsure_tigerbeetle::TigerBeetle::connect(0, a, std::time::Duration::from_secs(10))
            .map(|tb| std::sync::Arc::new(tb) as std::sync::Arc<dyn openinsure_ledger::LedgerBackend>)
            .map_err(|e| Failure(e.to_string())),
        #[cfg(not(feature = "tigerbeetle"))]
        Some(_) => Err(Failure(
            "this build has no TigerBeetle support: build with `--features tigerbeetle` (after `scripts/tigerbeetle.sh install`)"
                .into(),
        )),
    }
}

fn ledger(
    command: LedgerCommand,
    backend: std::sync::Arc<dyn openinsure_ledger::LedgerBackend>,
) -> Result<(), Failure> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Failure(e.to_string()))?;
    runtime.block_on(async {
        let (app, finance) = demo::example_books(backend).await?;
        let text = match command {
            LedgerCommand::TrialBalance { json, .. } => {
                let tb = app.trial_balance(&finance).await.map_err(|e| Failure(e.to_string()))?;
                if json {
                    serde_json::to_string_pretty(&tb).map_err(|e| Failure(e.to_string()))?
                } else {
                    render::trial_balance(&tb)
                }
            }
            LedgerCommand::Journal { json, .. } => {
                let entries = app.journal(&finance, 1000).await.map_err(|e| Failure(e.to_string()))?;
                if json {
                    serde_json::to_string_pretty(&entries).map_err(|e| Failure(e.to_string()))?
                } else {
                    render::journal(&entries)
                }
            }
        };
        emit(text.trim_end());
        Ok(())
    })
}

/// Writes a line to stdout; a closed pipe (`| head`) ends output quietly instead of panicking.
fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rate { rate_table, submission, schedule, json } => {
            run_rate(&rate_table, &submission, schedule.as_deref(), json)
        }
        Command::RateTable { command: RateTableCommand::Validate { file } } => load_table(&file).map(|t| {
            println!(
                "{}: ok ({} v{}, {} effective {})",
                file.display(),
                t.id,
                t.version,
                t.line_of_business,
                t.effective_date
            );
        }),
        Command::RateTable { command: RateTableCommand::Schema } => {
            serde_json::to_string_pretty(&RateTable::json_schema())
                .map(|s| println!("{s}"))
                .map_err(|e| Failure(e.to_string()))
        }
        Command::Audit { command: AuditCommand::Verify { file, org, database } } => match (file, org) {
            (Some(file), _) => audit::verify_file(&file).map(|s| emit(&s)).map_err(Failure),
            (None, Some(org)) => {
                audit::verify_database(&database.into_database(), &org).map(|s| emit(&s)).map_err(Failure)
            }
            (None, None) => Err(Failure("audit verify: name a file, or an org with --org".into())),
        },
        Command::Audit { command: AuditCommand::Purge { database, today } } => {
            audit::purge(&database.into_database(), today).map(|s| emit(&s)).map_err(Failure)
        }
        Command::Bordereau { org, agreement, month, claims, json, database } => {
            events::bordereau(&database.into_database(), &org, &agreement, &month, json, claims)
                .map(|s| emit(&s))
                .map_err(Failure)
        }
        Command::Events { command: EventsCommand::DeadLetters { org, database } } => {
            events::dead_letters(&database.into_database(), &org).map(|s| emit(&s)).map_err(Failure)
        }
        Command::Events { command: EventsCommand::Replay { id, org, database } } => {
            events::replay(&database.into_database(), &org, &id).map(|s| emit(&s)).map_err(Failure)
        }
        Command::Audit { command: AuditCommand::Example } => audit::example_log().map(|s| emit(&s)).map_err(Failure),
        Command::Serve {
            addr,
            tigerbeetle,
            nats,
            webhooks_allow_private,
            smtp,
            smtp_from,
            signing_key_file,
            rate_limit,
            max_body_bytes,
            request_timeout_secs,
            empty,
            public_url,
            database,
            no_migrate,
            tick_every_secs,
            grace_days,
            notice_days,
            renewal_offer_days,
        } => ledger_backend(tigerbeetle.as_deref()).and_then(|ledger| {
            let options = serve::ServeOptions {
                addr,
                key_file: signing_key_file.unwrap_or_else(serve::default_key_file),
                rate_limit,
                max_body_bytes,
                request_timeout: std::time::Duration::from_secs(request_timeout_secs.max(1)),
                empty,
                public_url,
                database: database.into_database(),
                migrate: !no_migrate,
                tick_every: (tick_every_secs > 0).then(|| std::time::Duration::from_secs(tick_every_secs)),
                tick_rules: openinsure_core::policy::tick::TickRules { grace_days, notice_days, renewal_offer_days },
                nats,
                webhook_rules: if webhooks_allow_private {
                    openinsure_webhooks::TargetRules::permissive()
                } else {
                    openinsure_webhooks::TargetRules::STRICT
                },
                smtp: smtp.map(|url| openinsure_smtp::SmtpConfig {
                    url,
                    from: smtp_from.unwrap_or_default(),
                    timeout: openinsure_smtp::DEFAULT_TIMEOUT,
                }),
            };
            serve::serve(options, ledger)
        }),
        Command::LedgerProxy { addr, tigerbeetle } => ledger_backend(tigerbeetle.as_deref()).and_then(|backend| {
            let key = std::env::var("OPENINSURE_LEDGER_SERVICE_KEY")
                .map_err(|_| Failure("set OPENINSURE_LEDGER_SERVICE_KEY to the key service callers present".into()))?;
            let key = openinsure_ledger::remote::ServiceKey::new(&key).map_err(|e| Failure(e.to_string()))?;
            if tigerbeetle.is_none() {
                eprintln!("ledger-proxy: serving the in-memory engine (development only: nothing survives a restart)");
            }
            serve::ledger_proxy(addr, backend, key)
        }),
        Command::Migrate { database } => serve::migrate(&database.into_database()).map(|s| emit(&s)),
        Command::Token { org, role, user, mfa, hours, signing_key_file } => {
            let key_file = signing_key_file.unwrap_or_else(serve::default_key_file);
            serve::token(&key_file, &org, &role, user.as_deref(), mfa, hours).map(|t| emit(&t))
        }
        Command::Demo { tigerbeetle } => ledger_backend(tigerbeetle.as_deref()).and_then(demo::run),
        Command::Ledger { command } => {
            let address = match &command {
                LedgerCommand::TrialBalance { tigerbeetle, .. } | LedgerCommand::Journal { tigerbeetle, .. } => {
                    tigerbeetle.clone()
                }
            };
            ledger_backend(address.as_deref()).and_then(|b| ledger(command, b))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {}", message.replace('\n', "\nerror: "));
            ExitCode::FAILURE
        }
    }
}

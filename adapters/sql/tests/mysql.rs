//! The MySQL-protocol store (MariaDB here, with MySQL 8's `sql_mode`) against every core store
//! suite, twice on one fresh database. Needs `OPENINSURE_MYSQL_URL` (a server URL, for example
//! `mysql://root@127.0.0.1:3306/test`); skipped without it unless `OPENINSURE_REQUIRE_MYSQL=1`,
//! which CI sets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use common::{drop_database, every_other_suite, every_statement_names_its_org_once, fresh_database};
use openinsure_core::testkit;
use openinsure_sql::{MYSQL8_SQL_MODE, SqlOptions, SqlStore};
use sqlx::Connection as _;

async fn open(url: &str) -> SqlStore {
    let options = SqlOptions { mysql_sql_mode: Some(MYSQL8_SQL_MODE.into()), ..SqlOptions::default() };
    let store = SqlStore::connect_with(url, options).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_every_store_suite_twice() {
    let Some(url) = fresh_database("suites").await else { return };
    let store = open(&url).await;
    testkit::stores(&store, 1).await;
    testkit::stores(&store, 2).await;
    testkit::bind_races(&store, 1, 64).await;
    every_other_suite(&store, 1).await;
    every_other_suite(&store, 2).await;
    store.close().await;
    // a new pool on the same database: migrations are applied once, the data is all there
    let again = open(&url).await;
    testkit::stores(&again, 3).await;
    again.close().await;
    drop_database(&url).await;
    every_statement_names_its_org_once();
}

/// A store on database `url` reached through a [`Proxy`] the test can cut: `connections` at
/// most, a 1-second wait for one.
async fn through_proxy(url: &str, connections: u32) -> (Proxy, SqlStore) {
    let (server, database) = url.rsplit_once('/').unwrap();
    let (credentials, host) = server.trim_start_matches("mysql://").rsplit_once('@').unwrap_or(("", server));
    let proxy = Proxy::start(host.trim_start_matches("mysql://")).await;
    let at = if credentials.is_empty() { String::new() } else { format!("{credentials}@") };
    let through = format!("mysql://{at}127.0.0.1:{}/{database}", proxy.port);
    let options = SqlOptions {
        max_connections: connections,
        acquire_timeout: std::time::Duration::from_secs(1),
        mysql_sql_mode: Some(MYSQL8_SQL_MODE.into()),
    };
    (proxy, SqlStore::connect_with(&through, options).await.unwrap())
}

/// A TCP forwarder to the MySQL server that the test can cut and restore, as an outage would.
struct Proxy {
    port: u16,
    upstream: String,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy { port, upstream: upstream.to_owned(), tasks: Default::default() };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let upstream = self.upstream.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let conn = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Drops every connection and stops listening.
    fn down(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Listens again on the same port.
    async fn up(&self) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(format!("127.0.0.1:{}", self.port).parse().unwrap()).unwrap();
        self.serve(socket.listen(64).unwrap());
    }
}

/// A database that goes away answers `Unavailable` promptly (no hang, no panic) and writes
/// nothing; when it comes back, the same store works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_unavailable_and_the_store_recovers() {
    use openinsure_core::Error;
    use openinsure_core::ids::{OrgId, SubmissionId};
    use openinsure_core::store::SubmissionStore;
    let Some(url) = fresh_database("outage").await else { return };
    let (proxy, store) = through_proxy(&url, 2).await;
    store.migrate().await.unwrap();
    let org = OrgId::from_uuid(testkit::test_uuid(9, 1));
    let kept = testkit::sample_submission(SubmissionId::from_uuid(testkit::test_uuid(9, 2)), org);
    store.insert_submission(org, &kept).await.unwrap();

    proxy.down();
    let started = std::time::Instant::now();
    let read = store.get_submission(org, kept.id).await;
    assert!(matches!(read, Err(Error::Unavailable(_))), "{read:?}");
    let lost = testkit::sample_submission(SubmissionId::from_uuid(testkit::test_uuid(9, 3)), org);
    assert!(matches!(store.insert_submission(org, &lost).await, Err(Error::Unavailable(_))));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "answered promptly: {:?}", started.elapsed());

    proxy.up().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match store.get_submission(org, kept.id).await {
            Ok(s) => {
                assert_eq!(s, kept);
                break;
            }
            Err(e) => assert!(std::time::Instant::now() < deadline, "recovers: {e}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(matches!(store.get_submission(org, lost.id).await, Err(Error::NotFound { .. })), "nothing was written");
    store.close().await;
    proxy.down();
    drop_database(&url).await;
}

/// The application's user, granted as the migrations document: the store works, and the audit
/// log can be read and appended to, never updated or deleted from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_user_cannot_change_the_audit_log() {
    use openinsure_hipaa::{PhiAuditLog as _, PhiAuditLogExt as _};
    let Some(url) = fresh_database("grants").await else { return };
    open(&url).await.close().await;
    let (server, database) = url.rsplit_once('/').unwrap();
    let user = format!("oi_app_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut admin = sqlx::MySqlConnection::connect(&format!("{server}/{database}")).await.unwrap();
    sqlx::query(&format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'app-secret'")).execute(&mut admin).await.unwrap();
    for grant in openinsure_sql::application_grants(database, &format!("'{user}'@'%'")) {
        sqlx::query(&grant).execute(&mut admin).await.unwrap();
    }
    let host = server.rsplit_once('@').map_or(server.trim_start_matches("mysql://"), |(_, h)| h);
    let as_app = format!("mysql://{user}:app-secret@{host}/{database}");
    let store = SqlStore::connect(&as_app).await.unwrap();
    let org = openinsure_core::ids::OrgId::from_uuid(openinsure_hipaa::testkit::test_uuid(8, 1));
    let at = openinsure_hipaa::testkit::sample_time();
    for n in 0..3 {
        store.append(org, &openinsure_hipaa::testkit::sample_draft(8, n, at)).await.unwrap();
    }
    assert_eq!(store.verify_chain(org).await.unwrap(), 3);
    store.close().await;
    let mut app = sqlx::MySqlConnection::connect(&as_app).await.unwrap();
    for denied in ["UPDATE audit_log SET month = '1999-01'", "DELETE FROM audit_log"] {
        let e = sqlx::query(denied).execute(&mut app).await.unwrap_err();
        assert!(e.to_string().contains("denied"), "{denied}: {e}");
    }
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log").fetch_one(&mut app).await.unwrap();
    assert_eq!(count.0, 3, "the entries are all there");
    app.close().await.unwrap();
    sqlx::query(&format!("DROP USER '{user}'@'%'")).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    drop_database(&url).await;
}

/// The retention removes only whole months older than seven years, records what it removed, and
/// the chain that remains verifies from its first entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_removes_only_whole_months_past_the_period() {
    use openinsure_hipaa::PhiAuditLog as _;
    let Some(url) = fresh_database("retention").await else { return };
    let store = open(&url).await;
    let org = openinsure_core::ids::OrgId::from_uuid(openinsure_hipaa::testkit::test_uuid(7, 1));
    let old = chrono::DateTime::parse_from_rfc3339("2018-03-10T10:00:00Z").unwrap().to_utc();
    let edge = chrono::DateTime::parse_from_rfc3339("2019-12-31T23:00:00Z").unwrap().to_utc();
    let recent = chrono::DateTime::parse_from_rfc3339("2026-11-01T10:00:00Z").unwrap().to_utc();
    let mut n = 0;
    for at in [old, old, edge, recent] {
        n += 1;
        store.append(org, &openinsure_hipaa::testkit::sample_draft(7, n, at)).await.unwrap();
    }
    // on 2026-12-04 the retained period starts at 2019-12: March 2018 goes, December 2019 stays
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let purged = store.purge_audit_months(today, recent).await.unwrap();
    assert_eq!(purged.len(), 1, "{purged:?}");
    assert_eq!((purged[0].month.to_string(), purged[0].entries), ("2018-03".to_owned(), 2));
    let all = openinsure_hipaa::audit::MonthRange {
        first: openinsure_hipaa::AuditMonth::MIN,
        last: openinsure_hipaa::AuditMonth::MAX,
    };
    let left = store.entries(org, all, openinsure_core::store::Page::first()).await.unwrap();
    assert_eq!(left.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![3, 4]);
    openinsure_hipaa::audit::verify_links(&left).unwrap();
    assert!(store.purge_audit_months(today, recent).await.unwrap().is_empty(), "nothing more to remove");
    store.close().await;
    let mut db = sqlx::MySqlConnection::connect(&url).await.unwrap();
    let (months,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_purges").fetch_one(&mut db).await.unwrap();
    assert_eq!(months, 1, "the removal is recorded");
    db.close().await.unwrap();
    drop_database(&url).await;
}

/// Binds cut off mid-flight when the connection drops leave nothing half-written: after a storm
/// of concurrent binds with the link to the database cut and restored, every policy has its
/// quote's link and its event, and the agreement year's usage counts exactly the policies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_cut_off_by_a_dropped_connection_leave_nothing_half_written() {
    use openinsure_core::store::{BindStore, DaStore, Outbox, Page, PolicyStore};
    let Some(url) = fresh_database("dropped").await else { return };
    open(&url).await.close().await;
    let (proxy, store) = through_proxy(&url, 8).await;
    let org = openinsure_core::ids::OrgId::from_uuid(testkit::test_uuid(6, 1));
    let commits = testkit::bind_storm(&store, 6, org, 120).await;
    let (done, mut results) = tokio::sync::mpsc::unbounded_channel();
    for c in &commits {
        let (store, c, done) = (store.clone(), c.clone(), done.clone());
        tokio::spawn(async move {
            let _ = done.send(store.bind(org, &c).await);
        });
    }
    drop(done);
    // cut the link as soon as the first bind is through: the rest are queued or mid-transaction
    let mut bound = 0;
    let mut cut = 0;
    while let Some(r) = results.recv().await {
        if r.is_ok() {
            bound += 1;
            break;
        }
        cut += 1;
    }
    proxy.down();
    while let Some(r) = results.recv().await {
        if r.is_ok() { bound += 1 } else { cut += 1 }
    }
    assert!(bound > 0 && cut > 0, "the cut fell mid-storm: {bound} bound, {cut} cut off");
    proxy.up().await;
    let reader = open(&url).await;
    let policies = reader.list_policies(org, Page::first()).await.unwrap();
    let events = reader.org_events(org, Page::first()).await.unwrap();
    for p in &policies {
        assert_eq!(reader.policy_for_quote(org, p.quote_id).await.unwrap().map(|x| x.id), Some(p.id), "linked");
        let bound = |e: &&openinsure_core::events::EventEnvelope| matches!(&e.event, openinsure_core::events::DomainEvent::PolicyBound { policy_id, .. } if *policy_id == p.id);
        assert_eq!(events.iter().filter(bound).count(), 1, "its event, once");
    }
    let claim = commits[0].capacity.as_ref().unwrap();
    let usage = reader.usage(org, claim.agreement_id, claim.agreement_year).await.unwrap();
    // a commit whose answer the cut lost may be there too; none that answered Ok is missing
    assert!(policies.len() >= bound, "{} policies, {bound} answered Ok", policies.len());
    assert_eq!(usage.policy_count as usize, policies.len(), "usage counts exactly the policies ({cut} cut off)");
    assert_eq!(usage.written_premium.cents(), claim.premium.cents() * policies.len() as i64, "and their premium");
    reader.close().await;
    store.close().await;
    proxy.down();
    drop_database(&url).await;
}

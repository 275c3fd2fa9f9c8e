//! The wire client (the MySQL protocol without sqlx, as the Workers host runs it through
//! Hyperdrive) against every core store suite on MariaDB, over plain TCP: the same statements
//! and row mapping as the `mysql` feature's, sent as text queries. Checks that no statement was
//! prepared and that a second statement in one query is refused. Needs `OPENINSURE_MYSQL_URL`
//! (skipped without it unless `OPENINSURE_REQUIRE_MYSQL=1`, which CI sets).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::sync::Arc;

use common::{drop_database, every_other_suite, every_statement_names_its_org_once, fresh_database};
use openinsure_core::testkit;
use openinsure_sql::wire::{Conn, Connector, Stream, WireOptions, WirePool};
use openinsure_sql::{MYSQL8_SQL_MODE, SqlOptions, SqlStore};

#[derive(Debug)]
struct Tcp(String);

#[async_trait::async_trait]
impl Connector for Tcp {
    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(Box::new(tokio::net::TcpStream::connect(&self.0).await?))
    }
}

fn wire_store(url: &str, max_idle: usize) -> (SqlStore, Arc<Tcp>, WireOptions) {
    let (mut options, host, port) = WireOptions::from_url(url).unwrap();
    options.session = vec![format!("SET SESSION sql_mode = '{MYSQL8_SQL_MODE}'"), "SET time_zone = '+00:00'".into()];
    options.max_idle = max_idle;
    let tcp = Arc::new(Tcp(format!("{host}:{port}")));
    (SqlStore::wire(WirePool::new(tcp.clone(), options.clone())), tcp, options)
}

async fn status(conn: &mut Conn, name: &str) -> i64 {
    let reply = conn.query(&format!("SHOW GLOBAL STATUS LIKE '{name}'")).await.unwrap();
    let value = reply.rows[0][1].clone().unwrap();
    String::from_utf8(value).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_every_store_suite_with_no_prepared_statement() {
    let Some(url) = fresh_database("wire").await else { return };
    // migrated natively (the wire client does not migrate)
    let native = SqlStore::connect_with(&url, SqlOptions::default()).await.unwrap();
    native.migrate().await.unwrap();
    native.close().await;

    let (store, tcp, options) = wire_store(&url, 8);
    assert!(store.migrate().await.is_err(), "the wire client refuses to migrate");
    let mut probe = Conn::open(tcp.connect().await.unwrap(), &options).await.unwrap();
    let prepared_before = status(&mut probe, "Com_stmt_prepare").await;

    testkit::stores(&store, 1).await;
    testkit::stores(&store, 2).await;
    testkit::bind_races(&store, 1, 32).await;
    every_other_suite(&store, 1).await;
    store.close().await;
    // a connection per call, as on Workers
    let (fresh, _, _) = wire_store(&url, 0);
    testkit::stores(&fresh, 3).await;

    assert_eq!(status(&mut probe, "Com_stmt_prepare").await, prepared_before, "no statement was prepared");
    // one statement per query: a second one is refused, not run
    let refused = probe.query("SELECT 1; SELECT 2").await;
    assert!(refused.is_err(), "{refused:?}");
    drop(probe);
    drop_database(&url).await;
    every_statement_names_its_org_once();
}

/// A wrong password is an error naming the server's refusal, not a hang or a panic.
#[tokio::test]
async fn a_wrong_password_is_refused() {
    let Some(url) = fresh_database("wirepw").await else { return };
    let (mut options, host, port) = WireOptions::from_url(&url).unwrap();
    options.password = "not-the-password".into();
    let tcp = Tcp(format!("{host}:{port}"));
    let err = Conn::open(tcp.connect().await.unwrap(), &options).await.unwrap_err();
    assert!(err.to_string().contains("1045"), "{err}");
    drop_database(&url).await;
}

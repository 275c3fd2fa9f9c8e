//! The sender against real local servers: an answer, a hang, 500, 410, a redirect, 100 MB, and
//! the address rules (strict, then loopback allowed explicitly, as the issue asks of tests).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use openinsure_webhook_http::{HttpSender, Lookup, SenderConfig};
use openinsure_webhooks::{OutboundRequest, SendOutcome, TargetRules, WebhookSender};

#[derive(Default)]
struct Counters {
    hits: AtomicUsize,
    redirected_hits: AtomicUsize,
    big_bytes_produced: AtomicUsize,
}

async fn serve(counters: Arc<Counters>) -> SocketAddr {
    let c = counters.clone();
    let c2 = counters.clone();
    let c3 = counters.clone();
    let app = Router::new()
        .route(
            "/ok",
            post(move |headers: HeaderMap, body: bytes::Bytes| {
                let c = c.clone();
                async move {
                    c.hits.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(headers["webhook-id"], "msg_1");
                    assert_eq!(&body[..], b"{}");
                    StatusCode::NO_CONTENT
                }
            }),
        )
        .route(
            "/hang",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                StatusCode::OK
            }),
        )
        .route("/fail", post(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route("/gone", post(|| async { StatusCode::GONE }))
        .route("/redirect", post(|| async { (StatusCode::FOUND, [("location", "/target")]).into_response() }))
        .route(
            "/target",
            post(move || {
                let c = c2.clone();
                async move {
                    c.redirected_hits.fetch_add(1, Ordering::SeqCst);
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/huge",
            post(move || {
                let c = c3.clone();
                async move {
                    // 100 MB in 64 KiB chunks, counted as they are produced
                    let chunks = futures_util::stream::iter(0..1600).map(move |_| {
                        c.big_bytes_produced.fetch_add(65_536, Ordering::SeqCst);
                        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 65_536]))
                    });
                    Response::new(Body::from_stream(chunks))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

use futures_util::StreamExt as _;

fn request(url: String) -> OutboundRequest {
    OutboundRequest {
        url,
        headers: vec![("content-type", "application/json".into()), ("webhook-id", "msg_1".into())],
        body: b"{}".to_vec(),
    }
}

fn loopback_allowed(timeout: Duration) -> HttpSender {
    HttpSender::new(SenderConfig { rules: TargetRules::permissive(), timeout, ..SenderConfig::default() }).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_hangs_errors_redirects_and_huge_bodies() {
    let counters = Arc::new(Counters::default());
    let addr = serve(counters.clone()).await;
    let sender = loopback_allowed(Duration::from_millis(800));
    let url = |p: &str| format!("http://{addr}{p}");

    let ok = sender.send(&request(url("/ok"))).await;
    assert_eq!(ok.outcome, SendOutcome::Response { status: 204 });
    assert_eq!(counters.hits.load(Ordering::SeqCst), 1);

    let started = Instant::now();
    let hang = sender.send(&request(url("/hang"))).await;
    assert_eq!(hang.outcome, SendOutcome::Timeout);
    assert!(started.elapsed() < Duration::from_secs(10), "the timeout held: {:?}", started.elapsed());
    assert!(hang.latency_ms >= 700, "{}", hang.latency_ms);

    assert_eq!(sender.send(&request(url("/fail"))).await.outcome, SendOutcome::Response { status: 500 });
    assert_eq!(sender.send(&request(url("/gone"))).await.outcome, SendOutcome::Response { status: 410 });

    let redirect = sender.send(&request(url("/redirect"))).await;
    assert_eq!(redirect.outcome, SendOutcome::Response { status: 302 });
    assert_eq!(counters.redirected_hits.load(Ordering::SeqCst), 0, "the redirect was not followed");

    let huge = sender.send(&request(url("/huge"))).await;
    assert_eq!(huge.outcome, SendOutcome::Response { status: 200 });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let produced = counters.big_bytes_produced.load(Ordering::SeqCst);
    assert!(produced < 10 * 1024 * 1024, "the sender stopped reading: {produced} of 100 MB produced");

    // nothing listens: a connection failure, named
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    match sender.send(&request(format!("http://{closed}/x"))).await.outcome {
        SendOutcome::Failed { reason } => assert!(!reason.is_empty()),
        other => panic!("{other:?}"),
    }
}

/// A resolver that answers one name with loopback.
struct MapsToLoopback;

#[async_trait]
impl Lookup for MapsToLoopback {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        assert_eq!(host, "hooks.example.test");
        Ok(vec!["127.0.0.1".parse().unwrap()])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_that_are_not_public_are_refused_before_connecting() {
    let counters = Arc::new(Counters::default());
    let addr = serve(counters.clone()).await;
    let strict = HttpSender::new(SenderConfig::default()).unwrap();
    for url in [
        format!("http://{addr}/ok"),
        format!("https://{addr}/ok"),
        format!("https://localhost:{}/ok", addr.port()),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[::ffff:127.0.0.1]/ok".to_owned(),
    ] {
        match strict.send(&request(url.clone())).await.outcome {
            SendOutcome::Blocked { .. } => {}
            other => panic!("{url}: {other:?}"),
        }
    }
    // a public-looking name that resolves to loopback: refused by the resolver, at every attempt
    let http_only = TargetRules { allow_http: true, allow_private: false };
    let guarded =
        HttpSender::with_lookup(SenderConfig { rules: http_only, ..SenderConfig::default() }, Arc::new(MapsToLoopback))
            .unwrap();
    let by_name = format!("http://hooks.example.test:{}/ok", addr.port());
    match guarded.send(&request(by_name.clone())).await.outcome {
        SendOutcome::Blocked { reason } => assert!(reason.contains("no public address (127.0.0.1)"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(counters.hits.load(Ordering::SeqCst), 0, "nothing reached the server");
    // the operator allows private addresses: the same name goes through, by the same resolver
    let allowed = HttpSender::with_lookup(
        SenderConfig { rules: TargetRules::permissive(), ..SenderConfig::default() },
        Arc::new(MapsToLoopback),
    )
    .unwrap();
    assert_eq!(allowed.send(&request(by_name)).await.outcome, SendOutcome::Response { status: 204 });
    assert_eq!(counters.hits.load(Ordering::SeqCst), 1);
}

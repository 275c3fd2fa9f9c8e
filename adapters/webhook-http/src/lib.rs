#![doc = include_str!("../README.md")]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openinsure_webhooks::{OutboundRequest, SendOutcome, SendResult, TargetRules, WebhookSender};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How the sender behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderConfig {
    /// Which targets are allowed.
    pub rules: TargetRules,
    /// The whole attempt's limit: connecting, sending, the answer and the part of its body read.
    pub timeout: Duration,
    /// The limit on connecting alone.
    pub connect_timeout: Duration,
    /// The most bytes of a response body read.
    pub max_response_bytes: usize,
}

impl Default for SenderConfig {
    /// Strict rules, 15 s per attempt (5 s to connect), 64 KiB of a response read.
    fn default() -> Self {
        SenderConfig {
            rules: TargetRules::STRICT,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            max_response_bytes: 64 * 1024,
        }
    }
}

/// Resolves a host name to addresses (the system's resolver by default; a test's map).
#[async_trait]
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host`.
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemLookup;

#[async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0)).await?.map(|a| a.ip()).collect())
    }
}

/// A name that resolved to no allowed address.
#[derive(Debug)]
struct Blocked(String);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

/// The addresses of `host` the rules allow; `Err` names why none is.
pub fn allowed_addresses(rules: &TargetRules, host: &str, resolved: &[IpAddr]) -> Result<Vec<IpAddr>, String> {
    let allowed: Vec<IpAddr> = resolved.iter().copied().filter(|ip| rules.allows_ip(*ip)).collect();
    if allowed.is_empty() {
        let list: Vec<String> = resolved.iter().map(ToString::to_string).collect();
        return Err(if list.is_empty() {
            format!("`{host}` resolves to no address")
        } else {
            format!("`{host}` resolves to no public address ({})", list.join(", "))
        });
    }
    Ok(allowed)
}

struct GuardedResolver {
    rules: TargetRules,
    lookup: Arc<dyn Lookup>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules;
        let lookup = self.lookup.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved = lookup.lookup(&host).await?;
            let allowed = allowed_addresses(&rules, &host, &resolved).map_err(Blocked)?;
            let addrs: Addrs = Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Posts webhook messages over HTTP(S); see the crate docs for the guards.
#[derive(Clone, Debug)]
pub struct HttpSender {
    client: reqwest::Client,
    config: SenderConfig,
}

/// Why the client could not be built (the TLS roots could not be read).
#[derive(Debug, thiserror::Error)]
#[error("webhook http client: {0}")]
pub struct BuildError(String);

impl HttpSender {
    /// A sender resolving names with the system's resolver.
    pub fn new(config: SenderConfig) -> Result<Self, BuildError> {
        HttpSender::with_lookup(config, Arc::new(SystemLookup))
    }

    /// A sender resolving names with `lookup` (the rules still apply to what it returns).
    pub fn with_lookup(config: SenderConfig, lookup: Arc<dyn Lookup>) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .https_only(!config.rules.allow_http)
            .pool_idle_timeout(Duration::from_secs(30))
            .dns_resolver(Arc::new(GuardedResolver { rules: config.rules, lookup }))
            .build()
            .map_err(|e| BuildError(e.to_string()))?;
        Ok(HttpSender { client, config })
    }

    async fn post(&self, request: &OutboundRequest) -> SendOutcome {
        let target = match self.config.rules.check_url(&request.url) {
            Ok(t) => t,
            Err(reason) => return SendOutcome::Blocked { reason: format!("the URL {reason}") },
        };
        let mut builder = self.client.post(target.url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let mut response = match builder.body(request.body.clone()).send().await {
            Ok(r) => r,
            Err(e) => return outcome_of(&e),
        };
        let status = response.status().as_u16();
        // read a little of the body (a receiver may want its answer read), then drop the rest
        let mut read = 0usize;
        while read < self.config.max_response_bytes {
            match response.chunk().await {
                Ok(Some(chunk)) => read = read.saturating_add(chunk.len()),
                Ok(None) => break,
                // the status is the answer: a body cut short or slow changes nothing
                Err(_) => break,
            }
        }
        SendOutcome::Response { status }
    }
}

fn outcome_of(e: &reqwest::Error) -> SendOutcome {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return SendOutcome::Blocked { reason: b.0.clone() };
        }
        source = s.source();
    }
    if e.is_timeout() {
        return SendOutcome::Timeout;
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    SendOutcome::Failed { reason }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, request: &OutboundRequest) -> SendResult {
        let started = Instant::now();
        let outcome = self.post(request).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        SendResult { outcome, latency_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_addresses_are_kept() {
        let ips: Vec<IpAddr> = ["10.0.0.1", "93.184.215.14", "::1"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(allowed_addresses(&TargetRules::STRICT, "h", &ips).unwrap(), vec![ips[1]]);
        let private = &ips[..1];
        let e = allowed_addresses(&TargetRules::STRICT, "h", private).unwrap_err();
        assert_eq!(e, "`h` resolves to no public address (10.0.0.1)");
        assert_eq!(allowed_addresses(&TargetRules::permissive(), "h", &ips).unwrap(), ips);
        assert!(allowed_addresses(&TargetRules::permissive(), "h", &[]).is_err());
    }
}

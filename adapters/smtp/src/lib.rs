#![doc = include_str!("../README.md")]

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use openinsure_core::notifications::{Email, EmailError, EmailSender};
use url::Url;

/// A timeout for one email that suits most servers: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to send email.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The server: `smtp://user:password@host:587` (STARTTLS, required), `smtps://host:465`
    /// (TLS from the first byte) or `smtp://host:port?tls=none` (no TLS, no credentials: a local
    /// relay or tests). A path names the client in `EHLO` (`smtp://host/client.example.com`).
    pub url: String,
    /// The `From` of every email: an address (`notices@example.com`) or a name and an address
    /// (`OpenInsure <notices@example.com>`).
    pub from: String,
    /// The limit on one email, from connecting to the server's answer to the message.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpConfig {
    /// The URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("url", &redacted(&self.url))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `url` with its password, if any, replaced by `***` (the whole URL when it does not parse).
fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            // a URL with a password has a host, so setting one cannot fail
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "<not a URL>".to_owned(),
    }
}

/// Why an [`SmtpConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// A field of the configuration is not usable.
    #[error("invalid smtp {field}: {reason}")]
    Invalid {
        /// The field: `url`, `from` or `timeout`.
        field: &'static str,
        /// Why, for people (never holding the password).
        reason: String,
    },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> SmtpError {
    SmtpError::Invalid { field, reason: reason.into() }
}

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    /// `smtp://`: STARTTLS, and nothing is sent when the server does not offer it.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=none`: in clear.
    None,
}

/// The parts of the server URL.
struct Endpoint {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello_name: Option<String>,
}

fn parse_url(raw: &str) -> Result<Endpoint, SmtpError> {
    let url = Url::parse(raw).map_err(|e| invalid("url", format!("is not a URL ({e})")))?;
    let mut tls = None;
    for (key, value) in url.query_pairs() {
        match &*key {
            "tls" if tls.is_none() => tls = Some(value.into_owned()),
            "tls" => return Err(invalid("url", "gives `tls` twice")),
            other => return Err(invalid("url", format!("has the unknown parameter `{other}` (only `tls`)"))),
        }
    }
    let security = match (url.scheme(), tls.as_deref()) {
        ("smtp", None | Some("required")) => Security::StartTls,
        ("smtp", Some("none")) => Security::None,
        ("smtp", Some(other)) => {
            return Err(invalid("url", format!("has `tls={other}`; it takes `required` (the default) or `none`")));
        }
        ("smtps", None) => Security::Implicit,
        ("smtps", Some(_)) => return Err(invalid("url", "has `tls`, which smtps:// (always TLS) does not take")),
        (other, _) => return Err(invalid("url", format!("has the scheme `{other}`; it takes smtp:// or smtps://"))),
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(invalid("url", "names no host")),
    };
    let port = url.port().unwrap_or(match security {
        Security::StartTls => 587,
        Security::Implicit => 465,
        Security::None => 25,
    });
    if url.fragment().is_some() {
        return Err(invalid("url", "has a fragment (`#…`)"));
    }
    let hello_name = match url.path().trim_matches('/') {
        "" => None,
        name if name.contains('/') => return Err(invalid("url", "has a path of more than one part")),
        name => Some(name.to_owned()),
    };
    let decode = |part: &str, what: &str| {
        percent_decode(part)
            .ok_or_else(|| invalid("url", format!("has a {what} that is not UTF-8 once percent-decoded")))
    };
    let credentials = match (url.username(), url.password()) {
        ("", None) => None,
        (_, None) => return Err(invalid("url", "names a user but no password")),
        (user, Some(password)) => {
            if security == Security::None {
                return Err(invalid("url", "has credentials with `tls=none`; they are only sent over TLS"));
            }
            Some(Credentials::new(decode(user, "user name")?, decode(password, "password")?))
        }
    };
    Ok(Endpoint { host, port, security, credentials, hello_name })
}

/// `%xx` sequences decoded; `None` when the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned())
}

/// Sends email over SMTP, one connection per email.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
    security: Security,
    timeout: Duration,
}

impl fmt::Debug for SmtpSender {
    /// The server, its security and the sender: no credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("server", &self.server)
            .field("security", &self.security)
            .field("from", &self.from.to_string())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// A sender for `config`; checks the URL, the `From` address and the timeout, and loads the
    /// system's root certificates when the URL asks for TLS. Connects to nothing.
    pub fn new(config: SmtpConfig) -> Result<Self, SmtpError> {
        let endpoint = parse_url(&config.url)?;
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| invalid("from", format!("`{}` is not an email address ({e})", config.from)))?;
        if config.timeout.is_zero() {
            return Err(invalid("timeout", "is zero"));
        }
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|e| invalid("url", format!("asks for TLS, which failed to set up ({e})")))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(endpoint.host.clone())
            .port(endpoint.port)
            .timeout(Some(config.timeout))
            .tls(match endpoint.security {
                Security::StartTls => Tls::Required(tls(&endpoint.host)?),
                Security::Implicit => Tls::Wrapper(tls(&endpoint.host)?),
                Security::None => Tls::None,
            });
        if let Some(credentials) = endpoint.credentials {
            builder = builder.credentials(credentials);
        }
        if let Some(name) = endpoint.hello_name {
            builder = builder.hello_name(ClientId::Domain(name));
        }
        let server = if endpoint.host.contains(':') {
            format!("[{}]:{}", endpoint.host, endpoint.port)
        } else {
            format!("{}:{}", endpoint.host, endpoint.port)
        };
        Ok(SmtpSender {
            transport: builder.build(),
            from,
            server,
            security: endpoint.security,
            timeout: config.timeout,
        })
    }

    /// The message for `email`, or why it cannot be written (for good).
    fn message(&self, email: &Email) -> Result<Message, EmailError> {
        let to: Address = email
            .to
            .parse()
            .map_err(|e| EmailError::Permanent(format!("the recipient is not an email address ({e})")))?;
        if email.subject.chars().any(|c| c.is_control() && c != '\t') {
            return Err(EmailError::Permanent("the subject holds a line break or a control character".into()));
        }
        // lettre ends the data with CRLF "." CRLF, whose first CRLF it adds after the body (not
        // taking it as the end of the body's last line): without its own last line ending, the
        // body arrives as it was given instead of with an empty line more
        let body = email.text.strip_suffix("\r\n").or_else(|| email.text.strip_suffix('\n')).unwrap_or(&email.text);
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), self.from.email.domain());
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(email.subject.clone())
            .message_id(Some(message_id))
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| EmailError::Permanent(format!("the message cannot be written ({e})")))
    }

    /// What a failure from lettre means for the email.
    fn classify(&self, e: &lettre::transport::smtp::Error) -> EmailError {
        let reply = || {
            let code = e.status().map(u16::from).unwrap_or_default();
            match e.source() {
                Some(text) => format!("{code} {text}"),
                None => code.to_string(),
            }
        };
        match e.status().map(u16::from) {
            // authentication required, too weak, refused, or needing encryption (RFC 4954):
            // our configuration, not this email, so worth trying again once it is fixed
            Some(530 | 534 | 535 | 538) => {
                EmailError::Transient(format!("the mail server refused our credentials: {}", reply()))
            }
            _ if e.is_permanent() => EmailError::Permanent(format!("the mail server refused it: {}", reply())),
            _ if e.is_transient() => EmailError::Transient(format!("the mail server deferred it: {}", reply())),
            _ => EmailError::Transient(format!("the mail server at `{}` failed: {e}", self.server)),
        }
    }
}

/// The part of an address after its last `@` (all that log lines show of a recipient).
fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

#[async_trait]
impl EmailSender for SmtpSender {
    async fn send(&self, email: &Email) -> Result<(), EmailError> {
        let domain = domain_of(&email.to);
        let result = match self.message(email) {
            Err(e) => Err((e, None)),
            Ok(message) => match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err((self.classify(&e), e.status().map(u16::from))),
                Err(_) => Err((
                    EmailError::Transient(format!(
                        "no answer from the mail server at `{}` within {} ms",
                        self.server,
                        self.timeout.as_millis()
                    )),
                    None,
                )),
            },
        };
        match result {
            Ok(()) => {
                tracing::info!(recipient_domain = domain, outcome = "sent", "email sent");
                Ok(())
            }
            Err((error, code)) => {
                let outcome = match error {
                    EmailError::Permanent(_) => "refused",
                    _ => "deferred",
                };
                tracing::warn!(recipient_domain = domain, outcome, reply_code = code, "email not sent");
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]
    use super::*;

    fn config(url: &str) -> SmtpConfig {
        SmtpConfig { url: url.into(), from: "notices@example.com".into(), timeout: DEFAULT_TIMEOUT }
    }

    #[test]
    fn urls() {
        let e = parse_url("smtp://us%40er:p%2Fss@mail.example.com").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.security), ("mail.example.com", 587, Security::StartTls));
        assert!(e.credentials.is_some());
        let e = parse_url("smtp://mail.example.com:2587?tls=required").unwrap();
        assert_eq!((e.port, e.security), (2587, Security::StartTls));
        let e = parse_url("smtps://mail.example.com").unwrap();
        assert_eq!((e.port, e.security), (465, Security::Implicit));
        let e = parse_url("smtp://127.0.0.1?tls=none").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.security), ("127.0.0.1", 25, Security::None));
        let e = parse_url("smtp://[::1]:2525/client.example.com?tls=none").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.hello_name.as_deref()), ("::1", 2525, Some("client.example.com")));
        assert_eq!(percent_decode("a%40b%2fc%zz%4"), Some("a@b/c%zz%4".into()));
        assert_eq!(percent_decode("%ff"), None);

        for (bad, why) in [
            ("mail.example.com", "is not a URL"),
            ("http://mail.example.com", "scheme `http`"),
            ("smtp://mail.example.com?tls=opportunistic", "`tls=opportunistic`"),
            ("smtp://mail.example.com?tls=none&tls=none", "twice"),
            ("smtp://mail.example.com?port=1", "unknown parameter `port`"),
            ("smtps://mail.example.com?tls=none", "does not take"),
            ("smtp://u:secretpw@mail.example.com?tls=none", "only sent over TLS"),
            ("smtp://u@mail.example.com", "no password"),
            ("smtp://mail.example.com/a/b", "more than one part"),
            ("smtp://mail.example.com#x", "fragment"),
            ("smtp://u:%ff@mail.example.com", "not UTF-8"),
        ] {
            let Err(SmtpError::Invalid { field, reason }) = SmtpSender::new(config(bad)) else {
                panic!("{bad} accepted")
            };
            assert_eq!(field, "url", "{bad}");
            assert!(reason.contains(why), "{bad}: {reason}");
            assert!(!reason.contains("secretpw"));
        }
    }

    #[test]
    fn the_from_address_and_the_timeout_are_checked() {
        for from in ["notices@example.com", "OpenInsure <notices@example.com>", "\"Open, Insure\" <n@example.com>"] {
            SmtpSender::new(SmtpConfig { from: from.into(), ..config("smtp://127.0.0.1:2525?tls=none") }).unwrap();
        }
        for from in ["", "notices", "notices@", "a b@example.com", "<notices@example.com"] {
            let e = SmtpSender::new(SmtpConfig { from: from.into(), ..config("smtp://127.0.0.1:2525?tls=none") });
            assert!(matches!(e, Err(SmtpError::Invalid { field: "from", .. })), "{from}: {e:?}");
        }
        let e = SmtpSender::new(SmtpConfig { timeout: Duration::ZERO, ..config("smtp://127.0.0.1?tls=none") });
        assert_eq!(e.unwrap_err().to_string(), "invalid smtp timeout: is zero");
    }

    #[test]
    fn the_password_is_never_shown() {
        let c = config("smtp://notices:hunter2@mail.example.com:587");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && shown.contains("notices:***@mail.example.com"), "{shown}");
        let sender = SmtpSender::new(c).unwrap();
        let shown = format!("{sender:?}");
        assert!(!shown.contains("hunter2") && shown.contains("mail.example.com:587"), "{shown}");
    }

    #[tokio::test]
    async fn what_cannot_be_written_is_refused_for_good_before_connecting() {
        // nothing listens on port 9 of this address: had it connected, the error would be transient
        let sender = SmtpSender::new(config("smtp://127.0.0.1:9?tls=none")).unwrap();
        for (to, subject) in [("not an address", "Hello"), ("ann@example.com", "Hello\r\nBcc: eve@example.com")] {
            let email = Email { to: to.into(), subject: subject.into(), text: "text".into() };
            let e = sender.send(&email).await.unwrap_err();
            assert!(matches!(e, EmailError::Permanent(_)), "{to} {subject:?}: {e}");
        }
        assert_eq!(domain_of("ann@example.com"), "example.com");
        assert_eq!(domain_of("nobody"), "");
    }
}

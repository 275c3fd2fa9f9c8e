//! Where a webhook may be sent: the rules against server-side request forgery (SSRF).
//!
//! A webhook URL is chosen by a tenant, and the server sends requests to it: without rules, a
//! tenant could make the server call its own admin ports, the cloud's metadata service
//! (`169.254.169.254`) or any host of the private network. [`TargetRules::check_url`] refuses,
//! when an endpoint is created or changed, a URL that is not `https`, carries credentials, or
//! names a host that is not public; [`is_public`] is the address test the sender applies again
//! to every address the host name resolves to, at every attempt (a name can resolve elsewhere
//! later). An operator can allow plain `http` and private addresses ([`TargetRules::permissive`],
//! for tests and for endpoints inside a private network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// What an operator allows as webhook targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetRules {
    /// Accept `http` as well as `https`.
    pub allow_http: bool,
    /// Accept hosts that are not public: loopback, private networks, link-local, ...
    pub allow_private: bool,
}

/// A URL the rules accept, with the parts the sender needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL, as given.
    pub url: url::Url,
    /// Its host (a name, or an address literal without brackets).
    pub host: String,
    /// Its port (the scheme's default when not given).
    pub port: u16,
}

impl TargetRules {
    /// `https` and public addresses only: the default.
    pub const STRICT: TargetRules = TargetRules { allow_http: false, allow_private: false };

    /// `http` and any address: for tests and private deployments, chosen by the operator.
    pub fn permissive() -> Self {
        TargetRules { allow_http: true, allow_private: true }
    }

    /// Checks a URL an org gives for an endpoint: the reason, lowercase, when refused.
    pub fn check_url(&self, text: &str) -> Result<Target, String> {
        if text.len() > MAX_URL_LEN {
            return Err(format!("is longer than {MAX_URL_LEN} characters"));
        }
        let url = url::Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err("must be `https` (plain `http` is not allowed by the operator)".into()),
            other => return Err(format!("must be `https`, not `{other}`")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials (put them in the endpoint's secret instead)".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a fragment".into());
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if !self.allow_private && (d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local")) {
                    return Err(format!("names `{d}`, which is not a public host"));
                }
                d
            }
            Some(url::Host::Ipv4(a)) => self.check_ip(IpAddr::V4(a))?,
            Some(url::Host::Ipv6(a)) => self.check_ip(IpAddr::V6(a))?,
            None => return Err("has no host".into()),
        };
        let port = url.port_or_known_default().ok_or("has no port")?;
        Ok(Target { url, host, port })
    }

    fn check_ip(&self, ip: IpAddr) -> Result<String, String> {
        if self.allows_ip(ip) {
            Ok(ip.to_string())
        } else {
            Err(format!("names `{ip}`, which is not a public address"))
        }
    }

    /// Whether the sender may connect to this address.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

/// Whether an address is on the public internet: not unspecified, loopback, private (RFC 1918,
/// unique local), shared (carrier-grade NAT), link-local (the cloud metadata service),
/// multicast, broadcast, documentation, benchmarking or reserved; IPv4 inside IPv6 (mapped,
/// compatible, NAT64, 6to4) is judged by the IPv4 address it carries.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    !(o0 == 0                                   // "this network" 0.0.0.0/8
        || o0 == 10                             // private
        || (o0 == 100 && (64..128).contains(&o1)) // shared address space 100.64.0.0/10
        || o0 == 127                            // loopback
        || (o0 == 169 && o1 == 254)             // link-local, the metadata service
        || (o0 == 172 && (16..32).contains(&o1)) // private
        || (o0 == 192 && o1 == 0 && o2 == 0)    // IETF protocol assignments
        || (o0 == 192 && o1 == 0 && o2 == 2)    // documentation TEST-NET-1
        || (o0 == 192 && o1 == 88 && o2 == 99)  // 6to4 relay anycast (deprecated)
        || (o0 == 192 && o1 == 168)             // private
        || (o0 == 198 && (o1 == 18 || o1 == 19)) // benchmarking
        || (o0 == 198 && o1 == 51 && o2 == 100) // documentation TEST-NET-2
        || (o0 == 203 && o1 == 0 && o2 == 113)  // documentation TEST-NET-3
        || o0 >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(a) {
        return is_public_v4(v4);
    }
    let s = a.segments();
    !(a.is_unspecified()
        || a.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00   // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80   // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0   // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00   // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0)      // Teredo: tunnels to any IPv4 address
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only 100::/64
        || s[0] == 0) // the rest of ::/16 (reserved)
}

/// The IPv4 address an IPv6 address carries: mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`, or 6to4 `2002:aabb:ccdd::`.
fn embedded_v4(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..5] == [0, 0, 0, 0, 0] && (s[5] == 0xffff || (s[5] == 0 && (s[6] != 0 || s[7] > 1))) {
        return Some(tail);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_that_are_not_public() {
        for text in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:0101::1",
            "100::1",
        ] {
            let ip: IpAddr = text.parse().unwrap();
            assert!(!is_public(ip), "{text} is not public");
            assert!(TargetRules::permissive().allows_ip(ip));
            assert!(!TargetRules::STRICT.allows_ip(ip));
        }
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert!(is_public(text.parse().unwrap()), "{text} is public");
        }
    }

    #[test]
    fn urls_are_checked_and_the_reason_named() {
        let strict = TargetRules::STRICT;
        let t = strict.check_url("https://hooks.example.com/in?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("hooks.example.com", 443));
        for (url, reason) in [
            ("http://hooks.example.com/", "must be `https`"),
            ("ftp://hooks.example.com/", "not `ftp`"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("https://127.0.0.1/", "not a public address"),
            ("https://[::1]:8443/", "not a public address"),
            ("https://169.254.169.254/latest/meta-data", "not a public address"),
            ("https://localhost/", "not a public host"),
            ("https://printer.local/", "not a public host"),
            ("https://hooks.example.com/#frag", "fragment"),
            ("not a url", "is not a URL"),
        ] {
            let e = strict.check_url(url).unwrap_err();
            assert!(e.contains(reason), "{url}: {e}");
        }
        assert!(strict.check_url(&format!("https://a.example/{}", "x".repeat(MAX_URL_LEN))).is_err());
        let open = TargetRules::permissive();
        let t = open.check_url("http://127.0.0.1:8080/hook").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert!(open.check_url("http://localhost:1/").is_ok());
        assert!(open.check_url("https://u@x.example/").is_err(), "credentials stay refused");
    }
}

//! WSGITrustedProxyHeaders and WSGITrustedProxies: which `X-Forwarded-*`
//! style headers a front-end proxy may set, and what each changes in the
//! WSGI environ. Headers of a category the configuration names are believed
//! only from a trusted peer; every other header of that category is removed,
//! so a client cannot slip in a second opinion.
use std::net::{IpAddr, Ipv6Addr};

/// The groups of headers that speak about one thing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// The client's address (REMOTE_ADDR).
    Client,
    /// The Host the client asked for (HTTP_HOST).
    Host,
    /// The server's name (SERVER_NAME).
    Server,
    /// The server's port (SERVER_PORT).
    Port,
    /// Where the application is mounted (SCRIPT_NAME).
    ScriptName,
    /// http or https (wsgi.url_scheme).
    Scheme,
}

/// What a header of a category carries, and so how its value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reading {
    /// A comma-separated chain of addresses, client first.
    ForwardedFor,
    /// One value used as it is.
    Verbatim,
    /// "http" or "https".
    SchemeName,
    /// On/Off, true/false, 1/0: whether the client used https.
    SchemeFlag,
}

/// Every environ key a category holds, with how it is read.
const KNOWN: [(&str, Category, Reading); 15] = [
    ("HTTP_X_FORWARDED_FOR", Category::Client, Reading::ForwardedFor),
    ("HTTP_X_CLIENT_IP", Category::Client, Reading::Verbatim),
    ("HTTP_X_REAL_IP", Category::Client, Reading::Verbatim),
    ("HTTP_X_FORWARDED_HOST", Category::Host, Reading::Verbatim),
    ("HTTP_X_HOST", Category::Host, Reading::Verbatim),
    ("HTTP_X_FORWARDED_SERVER", Category::Server, Reading::Verbatim),
    ("HTTP_X_FORWARDED_PORT", Category::Port, Reading::Verbatim),
    ("HTTP_X_SCRIPT_NAME", Category::ScriptName, Reading::Verbatim),
    ("HTTP_X_FORWARDED_SCRIPT_NAME", Category::ScriptName, Reading::Verbatim),
    ("HTTP_X_FORWARDED_PROTO", Category::Scheme, Reading::SchemeName),
    ("HTTP_X_FORWARDED_SCHEME", Category::Scheme, Reading::SchemeName),
    ("HTTP_X_SCHEME", Category::Scheme, Reading::SchemeName),
    ("HTTP_X_FORWARDED_HTTPS", Category::Scheme, Reading::SchemeFlag),
    ("HTTP_X_FORWARDED_SSL", Category::Scheme, Reading::SchemeFlag),
    ("HTTP_X_HTTPS", Category::Scheme, Reading::SchemeFlag),
];

/// Every environ key a proxy rule reads.
pub fn keys() -> impl Iterator<Item = &'static str> {
    KNOWN.iter().map(|(k, _, _)| *k)
}

fn known(key: &str) -> Option<(Category, Reading)> {
    KNOWN.iter().find(|(k, _, _)| *k == key).map(|&(_, c, r)| (c, r))
}

/// The category of an environ key (`HTTP_X_REAL_IP`), None for keys no proxy rule reads.
pub fn category(key: &str) -> Option<Category> {
    known(key).map(|(c, _)| c)
}

/// One change to the environ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    Set(&'static str, String),
    Remove(&'static str),
    /// wsgi.url_scheme: true for https.
    Https(bool),
}

/// An address range of WSGITrustedProxies: `10.0.0.1`, `10.0.0.0/8`,
/// `10.1` (the first two octets), `192.168.0.0/255.255.0.0`, `::1`, `fd00::/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    v6: bool,
    /// The network, as 32 or 128 bits in the low end.
    net: u128,
    mask: u128,
}

fn v4_bits(a: std::net::Ipv4Addr) -> u128 {
    u32::from(a) as u128
}

/// An address as (is IPv6, bits); IPv4 seen through IPv6 counts as IPv4.
fn address_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, v4_bits(a)),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (false, v4_bits(v4)),
            None => (true, u128::from(a)),
        },
    }
}

fn prefix_mask(bits: u32, width: u32) -> u128 {
    let all: u128 = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
    if bits == 0 {
        0
    } else {
        all & !((1u128 << (width - bits)) - 1)
    }
}

impl Subnet {
    /// Parses one WSGITrustedProxies word.
    pub fn parse(text: &str) -> Result<Subnet, String> {
        let bad = || format!("{text:?} is not an IP address or subnet (use 10.0.0.1, 10.0.0.0/8 or fd00::/8)");
        let (ip, mask) = match text.split_once('/') {
            Some((ip, m)) => (ip, Some(m)),
            None => (text, None),
        };
        if ip.contains(':') {
            let a: Ipv6Addr = ip.parse().map_err(|_| bad())?;
            let bits = match mask {
                None => 128,
                Some(m) => m.parse::<u32>().ok().filter(|b| *b <= 128).ok_or_else(bad)?,
            };
            let mask = prefix_mask(bits, 128);
            let (v6, addr) = address_bits(IpAddr::V6(a));
            if !v6 {
                // A v4-mapped range: keep only the bits that fall in the IPv4 part.
                let bits = bits.saturating_sub(96);
                let m = prefix_mask(bits, 32);
                return Ok(Subnet {
                    v6: false,
                    net: addr & m,
                    mask: m,
                });
            }
            return Ok(Subnet {
                v6: true,
                net: addr & mask,
                mask,
            });
        }
        // IPv4, possibly shortened to its leading octets ("10.1" is 10.1.0.0/16).
        let octets: Vec<&str> = ip.trim_end_matches('.').split('.').collect();
        if octets.is_empty() || octets.len() > 4 || octets.iter().any(|o| o.is_empty()) {
            return Err(bad());
        }
        let mut addr: u32 = 0;
        for (i, o) in octets.iter().enumerate() {
            if !o.bytes().all(|b| b.is_ascii_digit()) || o.len() > 3 {
                return Err(bad());
            }
            let v: u32 = o.parse().map_err(|_| bad())?;
            if v > 255 {
                return Err(bad());
            }
            addr |= v << (24 - 8 * i as u32);
        }
        let implied = 8 * octets.len() as u32;
        let mask = match mask {
            None => prefix_mask(implied, 32),
            Some(m) if m.contains('.') => {
                let a: std::net::Ipv4Addr = m.parse().map_err(|_| bad())?;
                let m = u32::from(a);
                // A netmask must be leading ones then zeros.
                if m.leading_ones() + m.trailing_zeros() != 32 {
                    return Err(bad());
                }
                m as u128
            }
            Some(m) => prefix_mask(m.parse::<u32>().ok().filter(|b| *b <= 32).ok_or_else(bad)?, 32),
        };
        Ok(Subnet {
            v6: false,
            net: addr as u128 & mask,
            mask,
        })
    }

    /// Whether an address in text form (as REMOTE_ADDR holds it) is in the range.
    pub fn contains_text(&self, addr: &str) -> bool {
        match parse_address(addr) {
            Some(ip) => self.contains(ip),
            None => false,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v6, bits) = address_bits(ip);
        v6 == self.v6 && bits & self.mask == self.net
    }
}

/// An address as a client or proxy writes it (no brackets, no port).
fn parse_address(text: &str) -> Option<IpAddr> {
    text.trim().parse::<IpAddr>().ok()
}

fn trusted_by(proxies: &[Subnet], addr: &str) -> bool {
    match parse_address(addr) {
        Some(ip) => proxies.iter().any(|s| s.contains(ip)),
        None => false,
    }
}

/// The entries of an X-Forwarded-For chain, empty ones left out (RFC 9110 5.6.1).
fn chain(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).filter(|e| !e.is_empty()).collect()
}

/// REMOTE_ADDR, and the rewritten X-Forwarded-For when it changes, from a chain.
///
/// With no trusted proxies every peer is believed and the leftmost entry is
/// the client. With a list, the chain is walked from the right past the
/// proxies in the list; the entry just before the leftmost trusted one is
/// the client, and the header keeps that entry and what follows. When the
/// rightmost entry is not a trusted proxy, it is the client.
fn forwarded_for(value: &str, proxies: Option<&[Subnet]>) -> Option<(String, Option<String>)> {
    let items = chain(value);
    if items.is_empty() {
        return None;
    }
    let Some(proxies) = proxies else {
        return Some((items[0].to_string(), None));
    };
    let mut first_trusted = None;
    for i in (0..items.len()).rev() {
        if !trusted_by(proxies, items[i]) {
            break;
        }
        first_trusted = Some(i);
    }
    match first_trusted {
        Some(f) => {
            let client = f.saturating_sub(1);
            Some((items[client].to_string(), Some(items[client..].join(", "))))
        }
        None => {
            let last = items[items.len() - 1].to_string();
            Some((last.clone(), Some(last)))
        }
    }
}

fn flag(value: &str) -> Option<bool> {
    let v = value.trim();
    if ["on", "true", "1"].iter().any(|t| v.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if ["off", "false", "0"].iter().any(|f| v.eq_ignore_ascii_case(f)) {
        Some(false)
    } else {
        None
    }
}

fn static_key(key: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(k, _, _)| *k == key).map(|(k, _, _)| *k)
}

/// The edits for one request. `trusted_headers` are the environ keys
/// WSGITrustedProxyHeaders names, in order; `proxies` the WSGITrustedProxies
/// ranges (None: every peer is a trusted proxy); `remote_addr` the peer;
/// `lookup` reads the environ as built from the request.
pub fn plan<'a>(
    trusted_headers: &[String],
    proxies: Option<&[Subnet]>,
    remote_addr: &str,
    lookup: impl Fn(&str) -> Option<&'a str>,
) -> Vec<Edit> {
    let mut edits = Vec::new();
    if trusted_headers.is_empty() {
        return edits;
    }
    let peer_trusted = proxies.is_none_or(|p| trusted_by(p, remote_addr));
    // Per category: whether the configuration names it, and which header was believed.
    let mut named: Vec<(Category, Option<&'static str>)> = Vec::new();
    for name in trusted_headers {
        let Some((cat, reading)) = known(name) else { continue };
        let key = static_key(name).expect("known key");
        let slot = match named.iter().position(|(c, _)| *c == cat) {
            Some(i) => i,
            None => {
                named.push((cat, None));
                named.len() - 1
            }
        };
        if !peer_trusted {
            continue;
        }
        let Some(value) = lookup(key) else { continue };
        named[slot].1 = Some(key);
        match (cat, reading) {
            (_, Reading::ForwardedFor) => {
                if let Some((client, rewritten)) = forwarded_for(value, proxies) {
                    edits.push(Edit::Set("REMOTE_ADDR", client));
                    if let Some(list) = rewritten {
                        edits.push(Edit::Set(key, list));
                    }
                }
            }
            (Category::Client, _) => edits.push(Edit::Set("REMOTE_ADDR", value.trim().to_string())),
            (Category::Host, _) => edits.push(Edit::Set("HTTP_HOST", value.to_string())),
            (Category::Server, _) => edits.push(Edit::Set("SERVER_NAME", value.to_string())),
            (Category::Port, _) => edits.push(Edit::Set("SERVER_PORT", value.to_string())),
            (Category::ScriptName, _) => {
                edits.push(Edit::Set("mod_wsgi.mount_point", value.to_string()));
                edits.push(Edit::Set("SCRIPT_NAME", value.to_string()));
            }
            (Category::Scheme, Reading::SchemeName) => {
                if value.trim().eq_ignore_ascii_case("https") {
                    edits.push(Edit::Https(true));
                } else if value.trim().eq_ignore_ascii_case("http") {
                    edits.push(Edit::Https(false));
                }
            }
            (Category::Scheme, _) => {
                if let Some(on) = flag(value) {
                    edits.push(Edit::Https(on));
                }
            }
        }
    }
    for (cat, believed) in named {
        for (k, c, _) in KNOWN.iter() {
            if *c == cat && Some(*k) != believed && lookup(k).is_some() {
                edits.push(Edit::Remove(k));
            }
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn run(headers: &[&str], proxies: Option<&[&str]>, peer: &str, env: &[(&str, &str)]) -> Vec<Edit> {
        let names: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        let subnets: Option<Vec<Subnet>> = proxies.map(|p| p.iter().map(|s| Subnet::parse(s).unwrap()).collect());
        let env: HashMap<&str, &str> = env.iter().copied().collect();
        plan(&names, subnets.as_deref(), peer, |k| env.get(k).copied())
    }

    /// The fuzz target's invariants (fuzz/fuzz_targets/proxy.rs) over a
    /// deterministic spread of inputs, so `cargo test` checks them too.
    #[test]
    fn invariants_hold_over_many_inputs() {
        let seed = std::cell::Cell::new(0x9e37_79b9_7f4a_7c15u64);
        let next = || {
            let mut x = seed.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            seed.set(x);
            x
        };
        let pieces = [
            "10.1.2.3",
            "127.0.0.1",
            " 203.0.113.5",
            "",
            ",",
            ", ",
            "::1",
            "fd00::9",
            "x",
            "10.0.0.0/8",
            "https",
            "On",
            "/app",
        ];
        let all: Vec<&str> = keys().collect();
        let list = [Subnet::parse("10.0.0.0/8").unwrap()];
        for _ in 0..20_000 {
            let text = |n: u64| (0..n).map(|_| pieces[next() as usize % pieces.len()]).collect::<Vec<_>>().join("");
            let (word, peer) = (text(2), text(1));
            let sent: Vec<(&str, String)> = (0..4).map(|_| (all[next() as usize % all.len()], text(3))).collect();
            let named: Vec<String> = (0..3).map(|_| all[next() as usize % all.len()].to_string()).collect();
            let with_list = next() % 2 == 0;
            if let Ok(s) = Subnet::parse(&word) {
                if let Ok(ip) = word.parse::<IpAddr>() {
                    assert!(s.contains(ip), "{word}");
                }
            }
            let env: HashMap<&str, String> = sent.into_iter().collect();
            let proxies = with_list.then_some(&list[..]);
            let edits = plan(&named, proxies, &peer, |k| env.get(k).map(String::as_str));
            let peer_trusted = !with_list || peer.trim().parse::<IpAddr>().is_ok_and(|ip| list[0].contains(ip));
            for e in &edits {
                match e {
                    Edit::Remove(k) => assert!(env.contains_key(k), "{k} removed but absent"),
                    _ => assert!(peer_trusted, "{e:?} from an untrusted peer {peer:?}"),
                }
                if let Edit::Set("REMOTE_ADDR", v) = e {
                    assert!(!v.is_empty() && v.trim() == v, "{v:?}");
                    assert!(env.values().any(|s| s.contains(v.as_str())), "{v:?} was never sent");
                }
            }
        }
    }

    #[test]
    fn subnets_parse_like_apr() {
        let s = Subnet::parse("10.1").unwrap();
        assert!(s.contains_text("10.1.200.3") && !s.contains_text("10.2.0.1"));
        let s = Subnet::parse("192.168.0.0/255.255.0.0").unwrap();
        assert!(s.contains_text("192.168.9.9") && !s.contains_text("192.169.0.1"));
        let s = Subnet::parse("127.0.0.1").unwrap();
        assert!(s.contains_text("127.0.0.1") && s.contains_text("::ffff:127.0.0.1") && !s.contains_text("127.0.0.2"));
        let s = Subnet::parse("fd00::/8").unwrap();
        assert!(s.contains_text("fd12::1") && !s.contains_text("fe80::1") && !s.contains_text("10.0.0.1"));
        assert!(Subnet::parse("::1").unwrap().contains_text("::1"));
        for bad in [
            "",
            "proxy.example.com",
            "10.0.0.256",
            "10.0.0.0/33",
            "10.0.0.0/255.0.255.0",
            "1.2.3.4.5",
            "::1/129",
        ] {
            assert!(Subnet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn leftmost_client_without_a_proxy_list() {
        let e = run(
            &["HTTP_X_FORWARDED_FOR"],
            None,
            "127.0.0.1",
            &[("HTTP_X_FORWARDED_FOR", " , 203.0.113.5, 10.0.0.1")],
        );
        assert_eq!(e, vec![Edit::Set("REMOTE_ADDR", "203.0.113.5".into())]);
    }

    #[test]
    fn chain_walk_with_a_proxy_list() {
        let p = Some(&["127.0.0.1"][..]);
        let e = run(
            &["HTTP_X_FORWARDED_FOR"],
            p,
            "127.0.0.1",
            &[("HTTP_X_FORWARDED_FOR", "198.51.100.1, 203.0.113.5,, 127.0.0.1,")],
        );
        assert_eq!(
            e,
            vec![
                Edit::Set("REMOTE_ADDR", "203.0.113.5".into()),
                Edit::Set("HTTP_X_FORWARDED_FOR", "203.0.113.5, 127.0.0.1".into())
            ]
        );
        let e = run(
            &["HTTP_X_FORWARDED_FOR"],
            p,
            "127.0.0.1",
            &[("HTTP_X_FORWARDED_FOR", "127.0.0.1, 127.0.0.1")],
        );
        assert_eq!(e[0], Edit::Set("REMOTE_ADDR", "127.0.0.1".into()));
        let e = run(
            &["HTTP_X_FORWARDED_FOR"],
            p,
            "127.0.0.1",
            &[("HTTP_X_FORWARDED_FOR", "198.51.100.9, 203.0.113.5")],
        );
        assert_eq!(e[0], Edit::Set("REMOTE_ADDR", "203.0.113.5".into()));
        assert_eq!(e[1], Edit::Set("HTTP_X_FORWARDED_FOR", "203.0.113.5".into()));
    }

    #[test]
    fn untrusted_peer_loses_every_header_of_the_named_categories() {
        let env = [
            ("HTTP_X_FORWARDED_FOR", "203.0.113.5"),
            ("HTTP_X_REAL_IP", "203.0.113.6"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("HTTP_X_FORWARDED_HOST", "spoof"),
        ];
        let e = run(
            &["HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO"],
            Some(&["10.9.9.9"]),
            "127.0.0.1",
            &env,
        );
        assert_eq!(
            e,
            vec![
                Edit::Remove("HTTP_X_FORWARDED_FOR"),
                Edit::Remove("HTTP_X_REAL_IP"),
                Edit::Remove("HTTP_X_FORWARDED_PROTO")
            ]
        );
    }

    #[test]
    fn trusted_headers_rewrite_and_peers_are_removed() {
        let env = [
            ("HTTP_X_FORWARDED_FOR", "203.0.113.5"),
            ("HTTP_X_CLIENT_IP", "1.1.1.1"),
            ("HTTP_X_FORWARDED_SSL", "Off"),
            ("HTTP_X_SCRIPT_NAME", "/app"),
            ("HTTP_X_FORWARDED_PORT", "8443"),
            ("HTTP_X_FORWARDED_HOST", "left.example"),
        ];
        let e = run(
            &[
                "HTTP_X_FORWARDED_FOR",
                "HTTP_X_FORWARDED_SSL",
                "HTTP_X_SCRIPT_NAME",
                "HTTP_X_FORWARDED_PORT",
            ],
            None,
            "127.0.0.1",
            &env,
        );
        assert_eq!(
            e,
            vec![
                Edit::Set("REMOTE_ADDR", "203.0.113.5".into()),
                Edit::Https(false),
                Edit::Set("mod_wsgi.mount_point", "/app".into()),
                Edit::Set("SCRIPT_NAME", "/app".into()),
                Edit::Set("SERVER_PORT", "8443".into()),
                Edit::Remove("HTTP_X_CLIENT_IP"),
            ]
        );
        assert_eq!(category("HTTP_X_FORWARDED_HOST"), Some(Category::Host));
        assert_eq!(category("HTTP_X_FORWARDED_PREFIX"), None);
    }
}

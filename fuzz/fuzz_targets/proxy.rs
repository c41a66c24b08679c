//! WSGITrustedProxyHeaders rules:
//! - any WSGITrustedProxies word parses or is refused, never panics; a full
//!   address parsed on its own contains itself;
//! - a peer outside the proxy list changes nothing: only removals;
//! - REMOTE_ADDR is only ever set to a non-empty, trimmed entry the client
//!   or proxy sent; removals name only keys that are present.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyrite_text::proxy::{keys, plan, Edit, Subnet};
use std::collections::HashMap;

fuzz_target!(|input: (String, String, Vec<(u8, String)>, Vec<u8>, bool)| {
    let (proxy_word, peer, sent, named, with_list) = input;
    if let Ok(s) = Subnet::parse(&proxy_word) {
        if let Ok(ip) = proxy_word.parse::<std::net::IpAddr>() {
            assert!(s.contains(ip), "{proxy_word}");
        }
    }
    let all: Vec<&str> = keys().collect();
    let env: HashMap<&str, String> = sent.into_iter().map(|(i, v)| (all[i as usize % all.len()], v)).collect();
    let headers: Vec<String> = named.iter().map(|i| all[*i as usize % all.len()].to_string()).collect();
    let list = vec![Subnet::parse("10.0.0.0/8").unwrap()];
    let proxies = with_list.then_some(&list[..]);
    let edits = plan(&headers, proxies, &peer, |k| env.get(k).map(String::as_str));
    let peer_trusted = !with_list || peer.trim().parse::<std::net::IpAddr>().is_ok_and(|ip| list[0].contains(ip));
    for e in &edits {
        match e {
            Edit::Remove(k) => assert!(env.contains_key(k), "{k} removed but absent"),
            _ => assert!(peer_trusted, "{e:?} from an untrusted peer {peer:?}"),
        }
        if let Edit::Set("REMOTE_ADDR", v) = e {
            assert!(!v.is_empty() && v.trim() == v, "{v:?}");
            assert!(env.values().any(|sent| sent.contains(v.as_str())), "{v:?} was never sent");
        }
    }
});

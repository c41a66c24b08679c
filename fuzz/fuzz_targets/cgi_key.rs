//! Request header name -> `HTTP_*` environ key: a key holds only `HTTP_` and
//! upper-case letters, digits and '_'; two names give the same key only when
//! they differ in case alone (so `X_User` can never pose as `X-User`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyrite_text::cgi_key::http_key;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (a, b) = input;
    let (ka, kb) = (http_key(&a), http_key(&b));
    for (name, key) in [(&a, &ka), (&b, &kb)] {
        if let Some(k) = key {
            assert!(k.starts_with("HTTP_") && k.len() == 5 + name.len(), "{name:?} -> {k:?}");
            assert!(
                k.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_'),
                "{name:?} -> {k:?}"
            );
            assert!(!name.contains(&b'_'), "{name:?} has '_' yet got {k:?}");
        }
    }
    if ka.is_some() && ka == kb {
        assert!(a.eq_ignore_ascii_case(&b), "{a:?} and {b:?} both give {ka:?}");
    }
});

//! WSGIScriptAlias matching and the SCRIPT_NAME/PATH_INFO split:
//! - a match covers a prefix of the URI equal to the alias once runs of '/'
//!   collapse, and ends at the URI's end, before a '/', or after an alias
//!   ending in '/'; every URI matches itself;
//! - the script file is the target plus the rest of the URI;
//! - SCRIPT_NAME + PATH_INFO is the URI, with runs of '/' collapsed;
//! - a mount point splits off exactly the URI's prefix it names.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyrite_text::alias::{collapse_slashes, filename, matches, mount_split, script_name_and_path_info};

fn has_double_slash(b: &[u8]) -> bool {
    b.windows(2).any(|w| w == b"//")
}

fuzz_target!(|input: (Vec<u8>, Vec<u8>, Vec<u8>, u16)| {
    let (uri, alias, target, cut) = input;
    assert_eq!(matches(&alias, &alias), Some(alias.len()), "{alias:?} does not match itself");
    if let Some(n) = matches(&uri, &alias) {
        assert!(n <= uri.len());
        assert_eq!(collapse_slashes(&uri[..n]), collapse_slashes(&alias), "{uri:?} ~ {alias:?} at {n}");
        assert!(
            alias.last() == Some(&b'/') || n == uri.len() || uri[n] == b'/',
            "{uri:?} ~ {alias:?} at {n}"
        );
        let f = filename(&target, &alias, &uri, n);
        let rest: &[u8] = if alias == b"/" { &uri } else { &uri[n..] };
        assert_eq!(f, [&target[..], rest].concat());
    }

    let cut = cut as usize % (uri.len() + 1);
    let (sn, pi) = script_name_and_path_info(&uri, &uri[cut..], cut);
    assert!(!has_double_slash(&sn) && !has_double_slash(&pi), "{sn:?} {pi:?}");
    assert_eq!(collapse_slashes(&[sn, pi].concat()), collapse_slashes(&uri), "{uri:?} cut at {cut}");

    let (base, rest) = mount_split(&uri, &alias);
    assert!(base.last() != Some(&b'/') && alias.starts_with(&base));
    if uri.starts_with(&base) {
        assert_eq!([base, rest].concat(), uri);
    } else {
        assert_eq!(rest, uri);
    }
});

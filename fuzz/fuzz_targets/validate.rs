//! PEP 3333's status and header checks: whatever they accept, httpd sends
//! as it is (no CR, LF, NUL or other control byte can slip into a response
//! head), and the latin-1 bytes decode back to the same str.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pyrite_text::validate::{header, httpd_sends, is_field_byte, latin1_bytes, server_owned, status};

fn latin1_decode(b: &[u8]) -> String {
    b.iter().map(|&b| b as char).collect()
}

fuzz_target!(|input: (String, String)| {
    let (name, value) = input;
    if let Ok(code) = status(&value) {
        assert!((100..=599).contains(&code), "{value:?} gave {code}");
        assert_eq!(value[..3].parse::<u16>().ok(), Some(code), "{value:?}");
        let line = latin1_bytes(&value);
        assert!(
            line.iter().all(|&b| is_field_byte(b) && b != b'\t'),
            "status {value:?} passed with {line:?}"
        );
        assert_eq!(latin1_decode(&line), value);
    }
    let _ = server_owned(&name);
    if header(&name, &value).is_ok() {
        let (n, v) = (latin1_bytes(&name), latin1_bytes(&value));
        assert!(httpd_sends(&n, &v), "accepted {name:?}: {value:?}, which httpd refuses");
        assert!(!v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0), "{value:?}");
        assert_eq!(latin1_decode(&n), name);
        assert_eq!(latin1_decode(&v), value);
    }
});

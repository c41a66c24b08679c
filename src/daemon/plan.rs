//! One request's WSGI settings, resolved from its configuration (aliases,
//! per-directory directives, WSGIDispatchScript): what running the
//! application needs and nothing else. Embedded mode makes and runs it in
//! one process; in daemon mode the child makes it (it has run httpd's whole
//! request cycle) and sends it with the request, and the daemon runs it
//! without running that cycle again.
use super::frame::{Meta, Pairs};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The script file that holds the application.
    pub script: String,
    pub callable: String,
    /// The application group's name, resolved ("" for %{GLOBAL}).
    pub application_group: String,
    /// WSGIScriptReloading.
    pub reloading: bool,
    /// The script's modification time as httpd found it (None: look it up).
    pub mtime_us: Option<i64>,
    /// What SCRIPT_FILENAME says (the request's file).
    pub filename: Vec<u8>,
    pub script_name: Vec<u8>,
    pub path_info: Vec<u8>,
    pub pass_authorization: bool,
    /// WSGIMapHEADToGET's decision for this request.
    pub head_as_get: bool,
    pub pass_apache_request: bool,
    /// WSGIChunkedRequest.
    pub chunked_ok: bool,
    /// WSGIErrorOverride.
    pub error_override: bool,
    /// WSGIEnableSendfile.
    pub sendfile: bool,
}

const PREFIX: &str = "plan:";

fn flag(b: bool) -> &'static [u8] {
    if b {
        b"1"
    } else {
        b"0"
    }
}

impl Plan {
    /// Adds the plan to a daemon request frame.
    pub fn push_into(&self, m: &mut impl Pairs) {
        let mut flags = Vec::with_capacity(7);
        for b in [
            self.reloading,
            self.pass_authorization,
            self.head_as_get,
            self.pass_apache_request,
            self.chunked_ok,
            self.error_override,
            self.sendfile,
        ] {
            flags.extend_from_slice(flag(b));
        }
        m.push("plan:script", self.script.as_bytes());
        m.push("plan:callable", self.callable.as_bytes());
        m.push("plan:group", self.application_group.as_bytes());
        if let Some(t) = self.mtime_us {
            m.push("plan:mtime", t.to_string().as_bytes());
        }
        m.push("plan:filename", &self.filename);
        m.push("plan:script_name", &self.script_name);
        m.push("plan:path_info", &self.path_info);
        m.push("plan:flags", &flags);
    }

    /// The plan a frame carries, if it carries one (a frame without one is
    /// served through httpd's whole request cycle).
    pub fn from_meta(m: &Meta) -> Option<Plan> {
        let mut p = Plan::default();
        p.fill_from(m).then_some(p)
    }

    /// Makes this the plan `m` carries, reusing this one's strings (a daemon
    /// thread keeps one Plan for all its requests); false when `m` carries none.
    pub fn fill_from(&mut self, m: &Meta) -> bool {
        fn set_text(to: &mut String, v: &[u8]) {
            to.clear();
            to.push_str(&String::from_utf8_lossy(v));
        }
        fn set_bytes(to: &mut Vec<u8>, v: &[u8]) {
            to.clear();
            to.extend_from_slice(v);
        }
        let mut flags: &[u8] = b"";
        let mut seen = false;
        self.mtime_us = None;
        for s in [&mut self.script, &mut self.callable, &mut self.application_group] {
            s.clear();
        }
        for b in [&mut self.filename, &mut self.script_name, &mut self.path_info] {
            b.clear();
        }
        for (k, v) in m.with_prefix(PREFIX) {
            seen = true;
            match k {
                b"script" => set_text(&mut self.script, v),
                b"callable" => set_text(&mut self.callable, v),
                b"group" => set_text(&mut self.application_group, v),
                b"mtime" => self.mtime_us = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()),
                b"filename" => set_bytes(&mut self.filename, v),
                b"script_name" => set_bytes(&mut self.script_name, v),
                b"path_info" => set_bytes(&mut self.path_info, v),
                b"flags" => flags = v,
                _ => {}
            }
        }
        if !seen || flags.len() != 7 || self.script.is_empty() {
            return false;
        }
        let f = |i: usize| flags[i] == b'1';
        self.reloading = f(0);
        self.pass_authorization = f(1);
        self.head_as_get = f(2);
        self.pass_apache_request = f(3);
        self.chunked_ok = f(4);
        self.error_override = f(5);
        self.sendfile = f(6);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_goes_through_a_frame() {
        let p = Plan {
            script: "/srv/app.wsgi".into(),
            callable: "application".into(),
            application_group: "".into(),
            reloading: true,
            mtime_us: Some(1_700_000_000_123_456),
            filename: b"/srv/app.wsgi".to_vec(),
            script_name: b"/app".to_vec(),
            path_info: b"/x y".to_vec(),
            pass_authorization: false,
            head_as_get: true,
            pass_apache_request: false,
            chunked_ok: true,
            error_override: false,
            sendfile: true,
        };
        let mut m = Meta::default();
        m.push("client_ip", b"127.0.0.1");
        p.push_into(&mut m);
        let bytes = m.encode();
        let back = Meta::decode(&bytes[8..]).unwrap();
        assert_eq!(Plan::from_meta(&back), Some(p));
    }

    #[test]
    fn a_frame_without_a_plan_has_none() {
        let mut m = Meta::default();
        m.push("client_ip", b"127.0.0.1");
        assert_eq!(Plan::from_meta(&m), None);
        m.push("plan:flags", b"01");
        assert_eq!(Plan::from_meta(&m), None);
    }
}

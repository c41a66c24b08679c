//! WSGIDaemonProcess's options as mod_wsgi 4.9 spells them: every one is
//! parsed (an unknown one stops httpd, as in mod_wsgi), and each knows
//! whether mod_pyrite honours it or what it does instead.
use std::time::Duration;

/// One daemon process group, as its WSGIDaemonProcess line declares it.
#[derive(Clone, Debug, Default)]
pub struct GroupSpec {
    pub name: String,
    pub processes: usize,
    /// `processes=` was written (even as 1): wsgi.multiprocess is then True, as in mod_wsgi.
    pub multiprocess: bool,
    pub threads: usize,
    pub user: Option<String>,
    pub group: Option<String>,
    pub supplementary_groups: Vec<String>,
    pub umask: Option<u32>,
    pub home: Option<String>,
    pub python_home: Option<String>,
    pub python_path: Vec<String>,
    pub python_eggs: Option<String>,
    pub lang: Option<String>,
    pub locale: Option<String>,
    pub display_name: Option<String>,
    pub listen_backlog: i32,
    pub queue_timeout: Option<Duration>,
    pub socket_timeout: Option<Duration>,
    pub connect_timeout: Duration,
    pub request_timeout: Option<Duration>,
    pub inactivity_timeout: Option<Duration>,
    pub graceful_timeout: Duration,
    pub eviction_timeout: Option<Duration>,
    pub shutdown_timeout: Duration,
    pub restart_interval: Option<Duration>,
    pub maximum_requests: u64,
    pub cpu_time_limit: Option<u64>,
    pub cpu_priority: Option<i32>,
    pub memory_limit: Option<u64>,
    pub virtual_memory_limit: Option<u64>,
    pub stack_size: Option<usize>,
    pub header_buffer_size: usize,
    pub send_buffer_size: Option<usize>,
    pub receive_buffer_size: Option<usize>,
    pub socket_user: Option<String>,
    /// Options accepted for compatibility and not acted on, with what is done instead.
    pub not_honoured: Vec<(String, &'static str)>,
}

/// The options mod_wsgi 4.9 accepts that mod_pyrite does not act on (yet),
/// and what it does instead; also listed in docs/migration.md.
pub const NOT_HONOURED: &[(&str, &str)] = &[
    (
        "chroot",
        "the daemon runs without chroot(); use user=/group= and file permissions to confine it",
    ),
    (
        "startup-timeout",
        "a script that fails to load is retried on the next request, the process is not restarted",
    ),
    (
        "deadlock-timeout",
        "no GIL watchdog; request-timeout restarts a process whose requests stop finishing",
    ),
    (
        "response-buffer-size",
        "the response is relayed as the daemon writes it, flushed whenever the daemon pauses",
    ),
    ("response-socket-timeout", "writes to the client use httpd's Timeout"),
    (
        "script-user",
        "the script's owner is not checked; the daemon's user= limits what it can read",
    ),
    (
        "script-group",
        "the script's group is not checked; the daemon's group= limits what it can read",
    ),
    (
        "server-metrics",
        "mod_wsgi.server_metrics() is not offered; the PyriteStatus page shows the server",
    ),
    (
        "newrelic-config-file",
        "no New Relic bootstrap; start the agent from the WSGI script",
    ),
    (
        "newrelic-environment",
        "no New Relic bootstrap; start the agent from the WSGI script",
    ),
];

fn seconds(k: &str, v: &str) -> Result<Duration, String> {
    let n: u64 = v.parse().map_err(|_| format!("{k}={v}: expected a whole number of seconds"))?;
    Ok(Duration::from_secs(n))
}

fn optional_seconds(k: &str, v: &str) -> Result<Option<Duration>, String> {
    let d = seconds(k, v)?;
    Ok(if d.is_zero() { None } else { Some(d) })
}

fn number<T: std::str::FromStr>(k: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{k}={v}: expected a number"))
}

/// Parses `name option=value ...` (the words after WSGIDaemonProcess).
pub fn parse(words: &[String]) -> Result<GroupSpec, String> {
    let Some(name) = words.first() else {
        return Err("needs a group name".into());
    };
    if name.is_empty() || name.contains('/') || name == "%{GLOBAL}" {
        return Err(format!("{name:?} is not a usable group name"));
    }
    let mut g = GroupSpec {
        name: name.clone(),
        processes: 1,
        threads: 15,
        listen_backlog: 100,
        connect_timeout: Duration::from_secs(15),
        graceful_timeout: Duration::from_secs(15),
        shutdown_timeout: Duration::from_secs(5),
        header_buffer_size: 32768,
        ..Default::default()
    };
    for w in &words[1..] {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Invalid option to WSGI daemon process definition: {w:?} (options are name=value)"
            ));
        };
        match k {
            "user" => g.user = Some(v.to_string()),
            "group" => g.group = Some(v.to_string()),
            "supplementary-groups" => g.supplementary_groups = v.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            "processes" => {
                g.processes = number(k, v)?;
                if g.processes < 1 {
                    return Err("processes= must be at least 1".into());
                }
                g.multiprocess = true;
            }
            "threads" => {
                g.threads = number(k, v)?;
                if g.threads < 1 {
                    return Err(
                        "threads=0 (a process that only runs WSGIImportScript code) is not supported: use threads=1 or more".into(),
                    );
                }
            }
            "umask" => g.umask = Some(u32::from_str_radix(v, 8).map_err(|_| format!("umask={v}: expected an octal mask such as 0022"))?),
            "chroot"
            | "startup-timeout"
            | "deadlock-timeout"
            | "response-buffer-size"
            | "response-socket-timeout"
            | "script-user"
            | "script-group"
            | "server-metrics"
            | "newrelic-config-file"
            | "newrelic-environment" => {
                match k {
                    "startup-timeout" | "deadlock-timeout" | "response-socket-timeout" => {
                        seconds(k, v)?;
                    }
                    "response-buffer-size" => {
                        number::<u64>(k, v)?;
                    }
                    "server-metrics" if !v.eq_ignore_ascii_case("on") && !v.eq_ignore_ascii_case("off") => {
                        return Err(format!("server-metrics={v}: use On or Off"));
                    }
                    _ => {}
                }
                let why = NOT_HONOURED.iter().find(|(n, _)| *n == k).map(|(_, w)| *w).unwrap_or("");
                g.not_honoured.push((w.clone(), why));
            }
            "home" => g.home = Some(v.to_string()),
            "lang" => g.lang = Some(v.to_string()),
            "locale" => g.locale = Some(v.to_string()),
            "python-home" => g.python_home = Some(v.to_string()),
            "python-path" => g.python_path = v.split(':').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            "python-eggs" => g.python_eggs = Some(v.to_string()),
            "stack-size" => g.stack_size = Some(number(k, v)?),
            "maximum-requests" => g.maximum_requests = number(k, v)?,
            "shutdown-timeout" => g.shutdown_timeout = seconds(k, v)?,
            "inactivity-timeout" => g.inactivity_timeout = optional_seconds(k, v)?,
            "request-timeout" => g.request_timeout = optional_seconds(k, v)?,
            "graceful-timeout" => g.graceful_timeout = seconds(k, v)?,
            "eviction-timeout" => g.eviction_timeout = optional_seconds(k, v)?,
            "restart-interval" => g.restart_interval = optional_seconds(k, v)?,
            "connect-timeout" => g.connect_timeout = seconds(k, v)?,
            "socket-timeout" => g.socket_timeout = optional_seconds(k, v)?,
            "queue-timeout" => g.queue_timeout = optional_seconds(k, v)?,
            "listen-backlog" => g.listen_backlog = number(k, v)?,
            "display-name" => g.display_name = Some(v.replace("%{GROUP}", &format!("(wsgi:{name})"))),
            "send-buffer-size" => g.send_buffer_size = Some(number(k, v)?),
            "receive-buffer-size" => g.receive_buffer_size = Some(number(k, v)?),
            "header-buffer-size" => g.header_buffer_size = number::<usize>(k, v)?.max(8192),
            "socket-user" => g.socket_user = Some(v.to_string()),
            "cpu-time-limit" => g.cpu_time_limit = Some(number(k, v)?).filter(|n| *n > 0),
            "cpu-priority" => g.cpu_priority = Some(number(k, v)?),
            "memory-limit" => g.memory_limit = Some(number(k, v)?).filter(|n| *n > 0),
            "virtual-memory-limit" => g.virtual_memory_limit = Some(number(k, v)?).filter(|n| *n > 0),
            _ => return Err(format!("Invalid option to WSGI daemon process definition: {k:?}")),
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn defaults_follow_mod_wsgi() {
        let g = parse(&words("site")).unwrap();
        assert_eq!((g.processes, g.threads, g.multiprocess), (1, 15, false));
        assert_eq!(g.graceful_timeout, Duration::from_secs(15));
        assert_eq!(g.listen_backlog, 100);
    }

    #[test]
    fn processes_given_makes_multiprocess_even_for_one() {
        let g = parse(&words("site processes=1 threads=4")).unwrap();
        assert!(g.multiprocess);
        assert_eq!(g.threads, 4);
    }

    #[test]
    fn every_mod_wsgi_4_9_option_is_accepted() {
        let all = "g user=www-data group=www-data supplementary-groups=a,b processes=2 threads=3 umask=0022 chroot=/x \
                   home=/tmp lang=C.UTF-8 locale=C.UTF-8 python-home=/v python-path=/a:/b python-eggs=/e stack-size=524288 \
                   maximum-requests=5 startup-timeout=1 shutdown-timeout=2 deadlock-timeout=3 inactivity-timeout=4 \
                   request-timeout=5 graceful-timeout=6 eviction-timeout=7 restart-interval=8 connect-timeout=9 \
                   socket-timeout=10 queue-timeout=11 listen-backlog=12 display-name=%{GROUP} send-buffer-size=4096 \
                   receive-buffer-size=4096 header-buffer-size=9000 response-buffer-size=1000 response-socket-timeout=3 \
                   socket-user=www-data script-user=a script-group=b cpu-time-limit=100 cpu-priority=5 memory-limit=1000000 \
                   virtual-memory-limit=1000000 server-metrics=On newrelic-config-file=/n newrelic-environment=e";
        let g = parse(&words(all)).unwrap();
        assert_eq!(g.display_name.as_deref(), Some("(wsgi:g)"));
        assert_eq!(g.python_path, ["/a", "/b"]);
        assert_eq!(g.umask, Some(0o022));
        assert_eq!(g.not_honoured.len(), NOT_HONOURED.len());
    }

    #[test]
    fn unknown_or_malformed_options_are_errors() {
        assert!(parse(&words("g bogus=1")).unwrap_err().contains("Invalid option"));
        assert!(parse(&words("g processes")).is_err());
        assert!(parse(&words("g threads=x")).is_err());
        assert!(parse(&words("g processes=0")).is_err());
        assert!(parse(&words("")).is_err());
    }
}

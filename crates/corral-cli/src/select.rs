//! Process selection options shared by listing commands.

use clap::Args;
use corral::{NameMatch, Pid, Snapshot};

use crate::Failure;

#[derive(Args, Debug, Default, Clone)]
pub struct Selection {
    /// Match --name/--contains/--regex against the whole command line, not the name.
    #[arg(long)]
    pub full: bool,
    /// Only processes that started at least this long ago (5m, 2h, 3d, 1h30m).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Only processes that started less than this long ago.
    #[arg(long, value_name = "AGE")]
    pub younger_than: Option<String>,
    /// Only processes with a TCP or UDP socket on this port, listening or connected,
    /// IPv4 or IPv6 (`8069`, `8069/tcp`, `53/udp`).
    #[arg(long, value_name = "PORT[/PROTO]")]
    pub port: Option<String>,
    /// Only processes with exactly this name (the name rule: comm completed from argv[0]).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Only processes whose name contains this text (repeat for any of several).
    #[arg(long, value_name = "TEXT")]
    pub contains: Vec<String>,
    /// Only processes whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub regex: Option<String>,
    /// Only processes whose full command line matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub pattern: Option<String>,
    /// Only processes of this user (name or uid; the real uid; on Windows the account
    /// name, with or without its domain).
    #[arg(long, short = 'u', value_name = "USER")]
    pub user: Option<String>,
    /// Only children of this pid.
    #[arg(long, value_name = "PID")]
    pub parent: Option<String>,
    /// Only these pids (comma-separated or repeated).
    #[arg(long = "pid", short = 'p', value_name = "PID", value_delimiter = ',')]
    pub pids: Vec<String>,
    /// Only members of this process group.
    #[arg(long, value_name = "PGID")]
    pub pgid: Option<String>,
    /// Only members of this session.
    #[arg(long, value_name = "SID")]
    pub session: Option<String>,
}

fn pid_arg(s: &str, what: &str) -> Result<Pid, Failure> {
    s.parse::<Pid>()
        .map_err(|e| Failure::usage(format!("{what}: {}", e.detail().unwrap_or("bad pid"))))
}

fn regex_arg(s: &str, what: &str) -> Result<regex::Regex, Failure> {
    regex::Regex::new(s).map_err(|e| Failure::usage(format!("{what}: bad regular expression: {e}")))
}

/// Parses `PORT` or `PORT/tcp` / `PORT/udp`.
pub fn parse_port(s: &str) -> Result<corral::PortMatch, Failure> {
    let (num, proto) = match s.split_once('/') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    let port: u16 =
        num.trim().parse().ok().filter(|&p| p != 0).ok_or_else(|| {
            Failure::usage(format!("--port: {num:?} is not a port number (1-65535)"))
        })?;
    let kind = match proto.map(|p| p.trim().to_ascii_lowercase()) {
        None => None,
        Some(p) if p == "tcp" => Some(corral::SocketType::Stream),
        Some(p) if p == "udp" => Some(corral::SocketType::Datagram),
        Some(p) => {
            return Err(Failure::usage(format!(
                "--port: unknown protocol {p:?} (tcp or udp)"
            )))
        }
    };
    Ok(corral::PortMatch { port, kind })
}

impl Selection {
    /// Whether no selector is given.
    pub fn is_empty(&self) -> bool {
        !self.any()
    }

    /// Whether any selector is given.
    pub fn any(&self) -> bool {
        self.name.is_some()
            || !self.contains.is_empty()
            || self.regex.is_some()
            || self.pattern.is_some()
            || self.user.is_some()
            || self.parent.is_some()
            || !self.pids.is_empty()
            || self.pgid.is_some()
            || self.session.is_some()
            || self.older_than.is_some()
            || self.younger_than.is_some()
            || self.port.is_some()
    }

    /// Applies the selection to a snapshot request, validating every value.
    pub fn apply(&self, mut snap: Snapshot) -> Result<Snapshot, Failure> {
        let name_selectors = self.name.is_some() as u8
            + (!self.contains.is_empty()) as u8
            + self.regex.is_some() as u8;
        if name_selectors > 1 {
            return Err(Failure::usage(
                "choose one of --name, --contains and --regex",
            ));
        }
        let mut m = None;
        if let Some(n) = &self.name {
            if n.is_empty() {
                return Err(Failure::usage("--name: empty name"));
            }
            m = Some(NameMatch::Exact(n.clone()));
        }
        if !self.contains.is_empty() {
            if self.contains.iter().any(|s| s.is_empty()) {
                return Err(Failure::usage("--contains: empty text"));
            }
            m = Some(NameMatch::Contains(self.contains.clone()));
        }
        if let Some(r) = &self.regex {
            m = Some(NameMatch::Regex(regex_arg(r, "--regex")?));
        }
        match m {
            Some(m) if self.full => {
                if self.pattern.is_some() {
                    return Err(Failure::usage(
                        "--full with --pattern: give one command-line match",
                    ));
                }
                snap = snap.cmdline(m);
            }
            Some(m) => snap = snap.name(m),
            None if self.full => {
                return Err(Failure::usage("--full needs --name, --contains or --regex"));
            }
            None => {}
        }
        if let Some(a) = &self.older_than {
            snap = snap.older_than(
                crate::duration::parse(a)
                    .map_err(|e| Failure::usage(format!("--older-than: {e}")))?,
            );
        }
        if let Some(a) = &self.younger_than {
            snap = snap.younger_than(
                crate::duration::parse(a)
                    .map_err(|e| Failure::usage(format!("--younger-than: {e}")))?,
            );
        }
        if let Some(p) = &self.port {
            snap = snap.port(parse_port(p)?);
        }
        if let Some(r) = &self.pattern {
            snap = snap.cmdline(NameMatch::Regex(regex_arg(r, "--pattern")?));
        }
        if let Some(u) = &self.user {
            snap = match u.parse::<u32>() {
                Ok(uid) => snap.uid(uid),
                Err(_) => match corral::system::user_id(u) {
                    Ok(Some(uid)) => snap.uid(uid),
                    Ok(None) => return Err(Failure::usage(format!("--user: no user named {u:?}"))),
                    // No numeric ids (Windows): by the name processes report.
                    Err(e) if e.kind() == corral::ErrorKind::Unsupported => snap.user_name(u),
                    Err(e) => return Err(Failure::fatal(e.to_string())),
                },
            };
        }
        if let Some(p) = &self.parent {
            snap = snap.parent(pid_arg(p, "--parent")?);
        }
        if !self.pids.is_empty() {
            let pids = self
                .pids
                .iter()
                .map(|p| pid_arg(p, "--pid"))
                .collect::<Result<Vec<_>, _>>()?;
            snap = snap.pids(&pids);
        }
        if self.pgid.is_some() || self.session.is_some() {
            // Where processes have no groups (Windows) every process would fail the
            // filter: say so instead of matching nothing.
            let opt = if self.pgid.is_some() {
                "--pgid"
            } else {
                "--session"
            };
            if let Err(e) = corral::Process::current().and_then(|p| p.process_group()) {
                if e.kind() == corral::ErrorKind::Unsupported {
                    return Err(Failure::usage(format!(
                        "{opt}: {}",
                        e.detail()
                            .unwrap_or("process groups are not available here")
                    )));
                }
            }
        }
        if let Some(g) = &self.pgid {
            snap = snap.pgid(pid_arg(g, "--pgid")?.as_raw());
        }
        if let Some(s) = &self.session {
            snap = snap.session(pid_arg(s, "--session")?.as_raw());
        }
        Ok(snap)
    }
}

//! Connection strings read the way every PostgreSQL client reads them (libpq's rules): a URL
//! (`postgres://user:secret@host1:5432,host2/db?sslmode=verify-full`) or key=value pairs
//! (`host=db user=app sslmode=require`), with the `PG*` environment variables filling what the string
//! leaves out and `~/.pgpass` (or `PGPASSFILE`) supplying a missing password. An empty string means
//! "everything from the environment", as in psql.
//!
//! No error, `Debug` output or log line made here ever contains a password: errors name the key that
//! was wrong, never its value, and [`redact_dsn`] masks the password of a DSN shown to a person.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// libpq's `sslmode`: whether and how the connection is encrypted and the server authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// Plaintext first; TLS (unverified) if the server insists.
    Allow,
    /// TLS (unverified) if the server offers it, else plaintext. libpq's default and ours.
    Prefer,
    /// TLS, unverified (verified as `verify-ca` when a root certificate file is given or present).
    Require,
    /// TLS, the server's certificate chain checked against the trusted roots.
    VerifyCa,
    /// TLS, the chain checked and the certificate's names matched against the host name.
    VerifyFull,
}

impl SslMode {
    fn parse(v: &str) -> Result<SslMode> {
        Ok(match v {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::invalid_option(format!(
                    "invalid DSN: sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        })
    }
}

/// Where the trusted roots for verifying the server come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootSource {
    /// PEM certificates in this file (`sslrootcert=path`, or libpq's default `~/.postgresql/root.crt`).
    File(PathBuf),
    /// The operating system's store (`sslrootcert=system`), with the Mozilla roots as fallback.
    System,
}

/// What TLS needs to know, read from the DSN and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsParams {
    pub(crate) mode: SslMode,
    /// `None` with `require`: the server is not authenticated.
    pub(crate) roots: Option<RootSource>,
    /// Client certificate chain and key (PEM), for `hostssl … cert` servers.
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
}

/// One host of a (possibly multi-host) DSN.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// A host name, an IP address, or a Unix socket directory (starts with `/`).
    pub(crate) host: String,
    /// The address to connect to instead of resolving `host` (which is then the name TLS checks).
    pub(crate) hostaddr: Option<std::net::IpAddr>,
    pub(crate) port: u16,
    /// From the DSN, `PGPASSWORD`, or the password file entry for this host.
    pub(crate) password: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Target {
    pub(crate) fn is_unix_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// `host:port` (or the socket path) for error messages.
    pub(crate) fn describe(&self) -> String {
        if self.is_unix_socket() {
            format!("{}/.s.PGSQL.{}", self.host.trim_end_matches('/'), self.port)
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Everything a connection needs, resolved from the DSN, the environment and the password file.
#[derive(Debug, Clone)]
pub(crate) struct ConnectParams {
    pub(crate) targets: Vec<Target>,
    pub(crate) user: String,
    pub(crate) dbname: String,
    /// The DSN's `application_name`, else `PGAPPNAME`, else the client's default (`pgmq-<language>`).
    pub(crate) application_name: Option<String>,
    pub(crate) options: Option<String>,
    /// Per host, as libpq: `None` when the DSN and the environment say nothing (the client's default).
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) tls: TlsParams,
    /// The pairs passed on to tokio-postgres as they are (keepalives, target_session_attrs,
    /// channel_binding, tcp_user_timeout, load_balance_hosts, ...).
    pub(crate) passthrough: BTreeMap<String, String>,
}

/// The keys pgmq reads itself; [`PASSTHROUGH`] keys go to tokio-postgres as they are.
const OWN: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "passfile",
    "dbname",
    "application_name",
    "fallback_application_name",
    "options",
    "connect_timeout",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "ssl",
    "requiressl",
    "client_encoding",
];

const PASSTHROUGH: &[&str] = &[
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
    "sslnegotiation",
];

/// libpq keys pgmq knows and does not support: refused by name rather than silently ignored.
const UNSUPPORTED: &[&str] = &[
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslcertmode",
    "sslcompression",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "replication",
];

/// The environment variable libpq reads for each key.
const ENV: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("dbname", "PGDATABASE"),
    ("application_name", "PGAPPNAME"),
    ("options", "PGOPTIONS"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("load_balance_hosts", "PGLOADBALANCEHOSTS"),
    ("sslnegotiation", "PGSSLNEGOTIATION"),
];

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::invalid_option(format!("invalid DSN: {msg}"))
}

/// The raw key/value pairs of a DSN, URL or key=value form. Values are never echoed in errors.
pub(crate) fn parse_pairs(dsn: &str) -> Result<BTreeMap<String, String>> {
    let trimmed = dsn.trim();
    let pairs = if let Some(rest) =
        trimmed.strip_prefix("postgres://").or_else(|| trimmed.strip_prefix("postgresql://"))
    {
        parse_url(rest)?
    } else if trimmed.contains("://") {
        return Err(bad("a URL must start with postgres:// or postgresql://"));
    } else {
        parse_key_values(trimmed)?
    };
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        if !OWN.contains(&k.as_str()) && !PASSTHROUGH.contains(&k.as_str()) {
            return Err(if UNSUPPORTED.contains(&k.as_str()) {
                bad(format!("{k} is not supported by pgmq"))
            } else {
                bad(format!("unknown option {k:?}"))
            });
        }
        map.insert(k, v);
    }
    // JDBC's ssl=true, which libpq also accepts in URLs.
    if let Some(v) = map.remove("ssl") {
        match v.as_str() {
            "true" => {
                map.entry("sslmode".into()).or_insert_with(|| "require".into());
            }
            _ => return Err(bad("ssl must be \"true\" (or use sslmode)")),
        }
    }
    if let Some(v) = map.remove("requiressl") {
        if v == "1" {
            map.entry("sslmode".into()).or_insert_with(|| "require".into());
        }
    }
    if let Some(enc) = map.remove("client_encoding") {
        if !enc.eq_ignore_ascii_case("utf8") && !enc.eq_ignore_ascii_case("utf-8") && !enc.eq_ignore_ascii_case("auto") {
            return Err(bad("client_encoding must be UTF8"));
        }
    }
    Ok(map)
}

fn parse_key_values(s: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(bad(format!("missing \"=\" after {key:?} (key=value pairs, or a postgres:// URL)")));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(bad(format!("unterminated quoted value of {key}"))),
                    Some('\'') => break,
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(bad(format!("unterminated quoted value of {key}"))),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(bad("empty key before \"=\""));
        }
        out.push((key, value));
    }
}

fn percent_decode(s: &str, what: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let b = hex
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(format!("invalid percent-encoding in the {what}")))?;
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(format!("the {what} is not UTF-8 once percent-decoded")))
}

/// `[user[:password]@][host[:port][,...]][/dbname][?key=value&...]`, after the scheme.
fn parse_url(rest: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match main.find('/') {
        Some(i) => (&main[..i], Some(&main[i + 1..])),
        None => (main, None),
    };
    // The user part ends at the last '@' of the authority: a password may contain '@' unencoded.
    let hosts = match authority.rfind('@') {
        Some(i) => {
            let userinfo = &authority[..i];
            match userinfo.split_once(':') {
                Some((u, p)) => {
                    if !u.is_empty() {
                        out.push(("user".into(), percent_decode(u, "user name")?));
                    }
                    out.push(("password".into(), percent_decode(p, "password")?));
                }
                None if !userinfo.is_empty() => out.push(("user".into(), percent_decode(userinfo, "user name")?)),
                None => {}
            }
            &authority[i + 1..]
        }
        None => authority,
    };
    if !hosts.is_empty() {
        let (mut host_list, mut port_list) = (Vec::new(), Vec::new());
        for spec in hosts.split(',') {
            let (host, port) = if let Some(inner) = spec.strip_prefix('[') {
                let end = inner.find(']').ok_or_else(|| bad("unterminated [ in an IPv6 host"))?;
                let after = &inner[end + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => p,
                    None if after.is_empty() => "",
                    None => return Err(bad("unexpected text after an IPv6 host")),
                };
                (inner[..end].to_owned(), port)
            } else {
                match spec.rsplit_once(':') {
                    Some((h, p)) => (percent_decode(h, "host")?, p),
                    None => (percent_decode(spec, "host")?, ""),
                }
            };
            host_list.push(host);
            port_list.push(port.to_owned());
        }
        if host_list.iter().any(|h| !h.is_empty()) {
            out.push(("host".into(), host_list.join(",")));
        }
        if port_list.iter().any(|p| !p.is_empty()) {
            out.push(("port".into(), port_list.join(",")));
        }
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        out.push(("dbname".into(), percent_decode(db, "database name")?));
    }
    for param in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = param.split_once('=').ok_or_else(|| bad("a URL parameter without \"=\""))?;
        out.push((percent_decode(k, "parameter name")?, percent_decode(v, "parameter value")?));
    }
    Ok(out)
}

/// Masks the password of a DSN (URL userinfo or `password=`) for display: `postgres://u:***@h/db`.
/// A string that does not parse is shown as `<unparsable DSN>`, since where its password is cannot be
/// known.
pub fn redact_dsn(dsn: &str) -> String {
    let trimmed = dsn.trim();
    if parse_pairs(trimmed).is_err() {
        return "<unparsable DSN>".to_owned();
    }
    if let Some(scheme_end) = trimmed.find("://") {
        let (scheme, rest) = trimmed.split_at(scheme_end + 3);
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        let auth_end = main.find('/').unwrap_or(main.len());
        let mut shown = String::from(scheme);
        match main[..auth_end].rfind('@') {
            Some(at) => {
                let userinfo = &main[..at];
                match userinfo.split_once(':') {
                    Some((u, _)) => shown.push_str(&format!("{u}:***")),
                    None => shown.push_str(userinfo),
                }
                shown.push_str(&main[at..]);
            }
            None => shown.push_str(main),
        }
        if let Some(q) = query {
            let params: Vec<String> = q
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k == "password" || k == "sslpassword" => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            shown.push('?');
            shown.push_str(&params.join("&"));
        }
        shown
    } else {
        let pairs = parse_key_values(trimmed).unwrap_or_default();
        pairs
            .iter()
            .map(|(k, v)| {
                if k == "password" {
                    format!("{k}=***")
                } else if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
                    format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Reads the environment; tests pass their own.
pub(crate) trait Env {
    fn var(&self, key: &str) -> Option<String>;
    /// The home directory (`~`), for `~/.pgpass` and `~/.postgresql/`.
    fn home(&self) -> Option<PathBuf>;
    /// Whether a path exists (default roots and client certificates are used only when present).
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// The process's environment.
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
    }
}

/// Unix socket directories libpq builds commonly use, tried when neither the DSN nor `PGHOST` names a
/// host, before `localhost`.
const SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/tmp"];

impl ConnectParams {
    /// Resolves a DSN against the environment (`PG*` variables, the password file).
    pub(crate) fn resolve(dsn: &str, env: &dyn Env) -> Result<ConnectParams> {
        let mut pairs = parse_pairs(dsn)?;
        for (key, var) in ENV {
            if !pairs.contains_key(*key) {
                if let Some(v) = env.var(var).filter(|v| !v.is_empty()) {
                    pairs.insert((*key).to_owned(), v);
                }
            }
        }
        let take = |pairs: &mut BTreeMap<String, String>, k: &str| pairs.remove(k).filter(|v| !v.is_empty());

        let ports: Vec<u16> = match take(&mut pairs, "port") {
            Some(p) => p
                .split(',')
                .map(|p| if p.is_empty() { Ok(5432) } else { p.trim().parse::<u16>() })
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad("port must be a number from 1 to 65535"))?,
            None => vec![5432],
        };
        let hostaddrs: Vec<Option<std::net::IpAddr>> = match take(&mut pairs, "hostaddr") {
            Some(a) => a
                .split(',')
                .map(|a| if a.is_empty() { Ok(None) } else { a.trim().parse().map(Some) })
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| bad("hostaddr must be IP addresses"))?,
            None => Vec::new(),
        };
        let mut hosts: Vec<String> = match take(&mut pairs, "host") {
            Some(h) => h.split(',').map(|h| h.trim().to_owned()).collect(),
            None if !hostaddrs.is_empty() => hostaddrs.iter().map(|a| a.map(|a| a.to_string()).unwrap_or_default()).collect(),
            None => vec![default_host(ports[0], env)],
        };
        if !hostaddrs.is_empty() && hostaddrs.len() != hosts.len() {
            return Err(bad(format!("{} hosts but {} hostaddrs", hosts.len(), hostaddrs.len())));
        }
        if ports.len() != 1 && ports.len() != hosts.len() {
            return Err(bad(format!("{} hosts but {} ports", hosts.len(), ports.len())));
        }
        for (i, h) in hosts.iter_mut().enumerate() {
            if h.is_empty() {
                match hostaddrs.get(i).copied().flatten() {
                    Some(a) => *h = a.to_string(),
                    None => *h = default_host(ports.get(i).copied().unwrap_or(ports[0]), env),
                }
            }
        }

        let user = match take(&mut pairs, "user") {
            Some(u) => u,
            None => env
                .var("USER")
                .or_else(|| env.var("LOGNAME"))
                .or_else(|| env.var("USERNAME"))
                .filter(|u| !u.is_empty())
                .ok_or_else(|| bad("no user name: set user in the DSN or PGUSER"))?,
        };
        let dbname = take(&mut pairs, "dbname").unwrap_or_else(|| user.clone());
        let password = pairs.remove("password");
        let passfile = take(&mut pairs, "passfile").map(PathBuf::from).or_else(|| env.home().map(|h| h.join(".pgpass")));

        let mut targets = Vec::with_capacity(hosts.len());
        for (i, host) in hosts.into_iter().enumerate() {
            let port = ports.get(i).copied().unwrap_or(ports[0]);
            let password = match &password {
                Some(p) => Some(p.clone()),
                None => passfile.as_deref().and_then(|f| password_from_file(f, &host, port, &dbname, &user)),
            };
            targets.push(Target { host, hostaddr: hostaddrs.get(i).copied().flatten(), port, password });
        }

        let connect_timeout = match take(&mut pairs, "connect_timeout") {
            Some(t) => {
                let secs: i64 = t.trim().parse().map_err(|_| bad("connect_timeout must be a whole number of seconds"))?;
                // libpq: 0 or less waits forever; 1 is taken as 2.
                if secs <= 0 {
                    None
                } else {
                    Some(Duration::from_secs(secs.max(2) as u64))
                }
            }
            None => None,
        };
        let application_name = take(&mut pairs, "application_name").or_else(|| pairs.remove("fallback_application_name"));
        pairs.remove("fallback_application_name");
        let options = take(&mut pairs, "options");

        let tls = resolve_tls(&mut pairs, env)?;
        Ok(ConnectParams { targets, user, dbname, application_name, options, connect_timeout, tls, passthrough: pairs })
    }
}

fn default_host(port: u16, env: &dyn Env) -> String {
    for dir in SOCKET_DIRS {
        if env.exists(&Path::new(dir).join(format!(".s.PGSQL.{port}"))) {
            return (*dir).to_owned();
        }
    }
    "localhost".to_owned()
}

fn resolve_tls(pairs: &mut BTreeMap<String, String>, env: &dyn Env) -> Result<TlsParams> {
    let explicit_root = pairs.remove("sslrootcert").filter(|v| !v.is_empty());
    let mode = match pairs.remove("sslmode").filter(|v| !v.is_empty()) {
        Some(m) => SslMode::parse(&m)?,
        // libpq: sslrootcert=system makes verify-full the default.
        None if explicit_root.as_deref() == Some("system") => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    let pg_dir = env.home().map(|h| h.join(".postgresql"));
    let roots = match explicit_root.as_deref() {
        Some("system") => {
            if mode != SslMode::VerifyFull {
                return Err(bad("sslrootcert=system requires sslmode=verify-full (as in libpq)"));
            }
            Some(RootSource::System)
        }
        Some(path) => Some(RootSource::File(PathBuf::from(path))),
        None => {
            let default = pg_dir.as_ref().map(|d| d.join("root.crt")).filter(|p| env.exists(p));
            match (default, mode) {
                (Some(path), SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull) => Some(RootSource::File(path)),
                // Without a root file, verification falls back to the system's roots (libpq fails here;
                // pgmq follows the platforms — mobile and desktop — whose clients trust their OS store).
                (None, SslMode::VerifyCa | SslMode::VerifyFull) => Some(RootSource::System),
                _ => None,
            }
        }
    };
    let cert = pairs.remove("sslcert").filter(|v| !v.is_empty()).map(PathBuf::from);
    let key = pairs.remove("sslkey").filter(|v| !v.is_empty()).map(PathBuf::from);
    let client_cert = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (Some(_), None) => return Err(bad("sslcert needs sslkey")),
        (None, Some(_)) => return Err(bad("sslkey needs sslcert")),
        (None, None) => {
            // libpq's defaults, used when both files exist.
            let c = pg_dir.as_ref().map(|d| d.join("postgresql.crt")).filter(|p| env.exists(p));
            let k = pg_dir.as_ref().map(|d| d.join("postgresql.key")).filter(|p| env.exists(p));
            c.zip(k)
        }
    };
    Ok(TlsParams { mode, roots, client_cert })
}

/// The password of the first matching `host:port:database:user:password` line of a libpq password
/// file. `*` matches anything; `\:` and `\\` escape. A Unix socket host matches `localhost`. Like libpq,
/// a file readable by group or others is ignored (with a warning), since it would leak the passwords.
fn password_from_file(path: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    "pgmq: password file {} has group or world access; it is ignored (chmod 0600 it)",
                    path.display()
                );
                return None;
            }
        }
    }
    let host = if host.starts_with('/') { "localhost" } else { host };
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass_line(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, value: &str| field == "*" || field == value;
        if matches(&fields[0], host) && matches(&fields[1], &port) && matches(&fields[2], dbname) && matches(&fields[3], user) {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().unwrap().push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv {
        vars: HashMap<&'static str, String>,
        home: Option<PathBuf>,
        files: Vec<PathBuf>,
    }

    impl FakeEnv {
        fn new(vars: &[(&'static str, &str)]) -> Self {
            FakeEnv { vars: vars.iter().map(|(k, v)| (*k, v.to_string())).collect(), home: None, files: vec![] }
        }
    }

    impl Env for FakeEnv {
        fn var(&self, key: &str) -> Option<String> {
            self.vars.get(key).cloned()
        }
        fn home(&self) -> Option<PathBuf> {
            self.home.clone()
        }
        fn exists(&self, path: &Path) -> bool {
            self.files.iter().any(|f| f == path)
        }
    }

    fn resolve(dsn: &str, env: &[(&'static str, &str)]) -> Result<ConnectParams> {
        ConnectParams::resolve(dsn, &FakeEnv::new(env))
    }

    #[test]
    fn a_url_and_its_key_value_twin_resolve_alike() {
        let url = resolve("postgres://app:s%40cret@db.example:6432/orders?sslmode=verify-full&sslrootcert=/ca.pem&application_name=billing", &[]).unwrap();
        let kv = resolve("host=db.example port=6432 user=app password='s@cret' dbname=orders sslmode=verify-full sslrootcert=/ca.pem application_name=billing", &[]).unwrap();
        for p in [&url, &kv] {
            assert_eq!(p.targets, vec![Target { host: "db.example".into(), hostaddr: None, port: 6432, password: Some("s@cret".into()) }]);
            assert_eq!((p.user.as_str(), p.dbname.as_str()), ("app", "orders"));
            assert_eq!(p.application_name.as_deref(), Some("billing"));
            assert_eq!(p.tls.mode, SslMode::VerifyFull);
            assert_eq!(p.tls.roots, Some(RootSource::File("/ca.pem".into())));
        }
    }

    #[test]
    fn multi_host_urls_keep_each_hosts_port() {
        let p = resolve("postgresql://u@a:1,[::1]:2,c/db?target_session_attrs=read-write", &[]).unwrap();
        let hosts: Vec<(&str, u16)> = p.targets.iter().map(|t| (t.host.as_str(), t.port)).collect();
        assert_eq!(hosts, vec![("a", 1), ("::1", 2), ("c", 5432)]);
        assert_eq!(p.passthrough.get("target_session_attrs").map(String::as_str), Some("read-write"));
    }

    #[test]
    fn the_environment_fills_what_the_dsn_leaves_out() {
        let env = [
            ("PGHOST", "envhost"),
            ("PGPORT", "5433"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpw"),
            ("PGDATABASE", "envdb"),
            ("PGSSLMODE", "require"),
            ("PGAPPNAME", "envapp"),
            ("PGCONNECT_TIMEOUT", "7"),
        ];
        let p = resolve("", &env).unwrap();
        assert_eq!(p.targets[0].host, "envhost");
        assert_eq!(p.targets[0].port, 5433);
        assert_eq!(p.targets[0].password.as_deref(), Some("envpw"));
        assert_eq!((p.user.as_str(), p.dbname.as_str()), ("envuser", "envdb"));
        assert_eq!(p.tls.mode, SslMode::Require);
        assert_eq!(p.application_name.as_deref(), Some("envapp"));
        assert_eq!(p.connect_timeout, Some(Duration::from_secs(7)));
        // What the DSN says wins over the environment.
        let p = resolve("host=dsnhost sslmode=disable", &env).unwrap();
        assert_eq!(p.targets[0].host, "dsnhost");
        assert_eq!(p.tls.mode, SslMode::Disable);
    }

    #[test]
    fn the_database_defaults_to_the_user_and_the_user_to_the_login() {
        let p = resolve("host=h", &[("USER", "alice")]).unwrap();
        assert_eq!((p.user.as_str(), p.dbname.as_str()), ("alice", "alice"));
    }

    #[test]
    fn sslmode_defaults_and_roots_follow_libpq() {
        assert_eq!(resolve("host=h user=u", &[]).unwrap().tls.mode, SslMode::Prefer);
        let p = resolve("host=h user=u sslrootcert=system", &[]).unwrap();
        assert_eq!((p.tls.mode, p.tls.roots), (SslMode::VerifyFull, Some(RootSource::System)));
        assert!(resolve("host=h user=u sslmode=require sslrootcert=system", &[]).is_err());
        assert_eq!(resolve("host=h user=u sslmode=require", &[]).unwrap().tls.roots, None);
        let mut env = FakeEnv::new(&[]);
        env.home = Some("/home/u".into());
        env.files = vec!["/home/u/.postgresql/root.crt".into(), "/home/u/.postgresql/postgresql.crt".into(), "/home/u/.postgresql/postgresql.key".into()];
        let p = ConnectParams::resolve("host=h user=u sslmode=require", &env).unwrap();
        assert_eq!(p.tls.roots, Some(RootSource::File("/home/u/.postgresql/root.crt".into())));
        assert!(p.tls.client_cert.is_some());
        let err = resolve("host=h user=u sslmode=verify", &[]).unwrap_err();
        assert_eq!(err.code(), "invalid_option");
    }

    #[test]
    fn bad_dsns_are_invalid_options_that_never_show_the_password() {
        for dsn in [
            "postgres://u:hunter2@h:notaport/db",
            "host=h password=hunter2 port=x",
            "host=h password=hunter2 sslpassword=hunter2",
            "host=h password=hunter2 bogus=1",
            "host=h password='hunter2",
            "mysql://u:hunter2@h/db",
            "host=h password=hunter2 sslcert=/c",
        ] {
            let err = resolve(dsn, &[]).unwrap_err();
            assert_eq!(err.code(), "invalid_option", "{dsn}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        }
    }

    #[test]
    fn redaction_masks_passwords_in_both_forms() {
        assert_eq!(redact_dsn("postgres://u:hunter2@h:5432/db?sslmode=require"), "postgres://u:***@h:5432/db?sslmode=require");
        assert_eq!(redact_dsn("postgres://u@h/db?password=hunter2"), "postgres://u@h/db?password=***");
        assert_eq!(redact_dsn("host=h password='hun ter2' user=u"), "host=h password=*** user=u");
        assert_eq!(redact_dsn("host=h password=hunter2 port=x y"), "<unparsable DSN>");
        let p = resolve("postgres://u:hunter2@h/db", &[]).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn the_password_file_matches_host_port_database_and_user() {
        let dir = std::env::temp_dir().join(format!("pgmq-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(&file, "# comment\nother:*:*:*:nope\nh:5432:db:u:first\\:part\n*:*:*:u:fallback\nlocalhost:*:*:*:socketpw\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let passfile = format!("passfile={}", file.display());
        let pw = |dsn: &str| resolve(&format!("{dsn} {passfile}"), &[]).unwrap().targets[0].password.clone();
        assert_eq!(pw("host=h port=5432 dbname=db user=u").as_deref(), Some("first:part"));
        assert_eq!(pw("host=h port=5433 dbname=db user=u").as_deref(), Some("fallback"));
        assert_eq!(pw("host=/run/pg dbname=db user=v").as_deref(), Some("socketpw"));
        assert_eq!(pw("host=h dbname=db user=u password=given").as_deref(), Some("given"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(pw("host=h port=5432 dbname=db user=u"), None, "a world-readable file is ignored");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

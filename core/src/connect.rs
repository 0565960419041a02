//! Opening one connection, for the pool and the LISTEN connection alike: the hosts of the DSN in
//! order (failing over to the next when one does not answer within `connect_timeout`, which applies
//! per host as in libpq), TLS as `sslmode` says, TCP keepalives and a TCP user timeout so a peer that
//! silently disappears is noticed, and `application_name` so operators see pgmq in
//! `pg_stat_activity`.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::{Config, Socket};

use crate::dsn::{ConnectParams, Env, ProcessEnv, SslMode, Target};
use crate::error::{Error, Result};
use crate::tls::{Tls, TlsStream};

/// A connected client and the connection future that drives it.
pub(crate) type Connected = (tokio_postgres::Client, tokio_postgres::Connection<Socket, TlsStream>);

/// Idle time before the first TCP keepalive probe, unless the DSN sets `keepalives_idle` (the
/// operating system's default is two hours, longer than any NAT keeps an idle mapping).
pub const DEFAULT_KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
/// Time between keepalive probes, unless the DSN sets `keepalives_interval`.
pub const DEFAULT_KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the connection is dropped, unless the DSN sets `keepalives_count`.
pub const DEFAULT_KEEPALIVES_COUNT: u32 = 3;
/// How long sent data may stay unacknowledged before the kernel drops the connection, unless the DSN
/// sets `tcp_user_timeout` (0 turns it off): a statement sent into a dead network fails after this
/// long instead of the kernel's ~15 minutes of retransmissions.
pub const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens connections to the server(s) of one DSN. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Connector {
    targets: Vec<Target>,
    /// Everything but the host, port, password and TLS mode, which vary per attempt.
    base: Config,
    mode: SslMode,
    tls: Tls,
    /// Per host.
    connect_timeout: Duration,
    random_order: bool,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // tokio-postgres's Config hides its password; Target hides its own.
        f.debug_struct("Connector").field("targets", &self.targets).field("mode", &self.mode).finish_non_exhaustive()
    }
}

/// Why a connect failed: a text for people, and tokio-postgres's error for the pool, which can only
/// carry that type.
pub(crate) struct ConnectFailure {
    pub(crate) text: String,
    pub(crate) last: Option<tokio_postgres::Error>,
}

impl From<ConnectFailure> for Error {
    fn from(f: ConnectFailure) -> Self {
        Error::Connection(f.text)
    }
}

impl Connector {
    /// Reads the DSN (and the environment, the password file and the certificate files it names).
    /// `application_name` is used when neither the DSN nor `PGAPPNAME` sets one; `connect_timeout`
    /// when neither the DSN nor `PGCONNECT_TIMEOUT` does.
    pub(crate) fn new(dsn: &str, application_name: &str, connect_timeout: Duration) -> Result<Connector> {
        Connector::with_env(dsn, application_name, connect_timeout, &ProcessEnv)
    }

    pub(crate) fn with_env(
        dsn: &str,
        application_name: &str,
        connect_timeout: Duration,
        env: &dyn Env,
    ) -> Result<Connector> {
        let params = ConnectParams::resolve(dsn, env)?;
        let tls = Tls::new(&params.tls)?;
        let ConnectParams { targets, user, dbname, application_name: app, options, passthrough, .. } = &params;
        let random_order = passthrough.get("load_balance_hosts").is_some_and(|v| v == "random");
        // The pairs tokio-postgres understands as they are, parsed by it (so their rules are its rules).
        let kv: Vec<String> = passthrough
            .iter()
            .filter(|(k, _)| k.as_str() != "load_balance_hosts")
            .map(|(k, v)| format!("{k}='{}'", v.replace('\\', "\\\\").replace('\'', "\\'")))
            .collect();
        let mut base = Config::from_str(&kv.join(" "))
            .map_err(|e| Error::invalid_option(format!("invalid DSN: {}", first_line(&e.to_string()))))?;
        base.user(user).dbname(dbname).application_name(app.as_deref().unwrap_or(application_name));
        if let Some(o) = options {
            base.options(o);
        }
        if !passthrough.contains_key("keepalives_idle") {
            base.keepalives_idle(DEFAULT_KEEPALIVES_IDLE);
        }
        if !passthrough.contains_key("keepalives_interval") {
            base.keepalives_interval(DEFAULT_KEEPALIVES_INTERVAL);
        }
        if !passthrough.contains_key("keepalives_count") {
            base.keepalives_retries(DEFAULT_KEEPALIVES_COUNT);
        }
        if !passthrough.contains_key("tcp_user_timeout") {
            base.tcp_user_timeout(DEFAULT_TCP_USER_TIMEOUT);
        }
        Ok(Connector {
            targets: targets.clone(),
            base,
            mode: params.tls.mode,
            tls,
            connect_timeout: params.connect_timeout.unwrap_or(connect_timeout),
            random_order,
        })
    }

    /// The first host that accepts us, in DSN order (random with `load_balance_hosts=random`).
    pub(crate) async fn connect(&self) -> std::result::Result<Connected, ConnectFailure> {
        let mut order: Vec<&Target> = self.targets.iter().collect();
        if self.random_order && !order.is_empty() {
            // Start at a random host and go round: spreads clients, still tries every host.
            let start = (uuid::Uuid::new_v4().as_u128() % order.len() as u128) as usize;
            order.rotate_left(start);
        }
        let mut texts = Vec::new();
        let mut last = None;
        for target in order {
            match self.connect_target(target).await {
                Ok(c) => return Ok(c),
                Err(f) => {
                    tracing::debug!("pgmq: {}", f.text);
                    texts.push(f.text);
                    last = f.last.or(last);
                }
            }
        }
        Err(ConnectFailure { text: texts.join("; "), last })
    }

    async fn connect_target(&self, target: &Target) -> std::result::Result<Connected, ConnectFailure> {
        // libpq: TLS is never used over a Unix socket, whatever sslmode says.
        let first = match self.mode {
            _ if target.is_unix_socket() => PgSslMode::Disable,
            SslMode::Disable | SslMode::Allow => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        };
        let result = self.attempt(target, first).await;
        match result {
            // `allow`: plaintext refused by the server (pg_hba hostssl), so try again with TLS.
            Err(f) if self.mode == SslMode::Allow && !target.is_unix_socket() && f.refused_by_server() => {
                self.attempt(target, PgSslMode::Require).await
            }
            other => other,
        }
    }

    async fn attempt(&self, target: &Target, ssl: PgSslMode) -> std::result::Result<Connected, ConnectFailure> {
        let mut config = self.base.clone();
        config.host(&target.host).port(target.port).ssl_mode(ssl).connect_timeout(self.connect_timeout);
        if let Some(addr) = target.hostaddr {
            config.hostaddr(addr);
        }
        if let Some(password) = &target.password {
            config.password(password);
        }
        // tokio-postgres bounds only the socket connect; a server that accepts and never answers the
        // startup (or a TLS handshake that stalls) would otherwise hang here.
        match tokio::time::timeout(self.connect_timeout, config.connect(self.tls.clone())).await {
            Ok(Ok(connected)) => Ok(connected),
            Ok(Err(e)) => Err(ConnectFailure { text: format!("{}: {}", target.describe(), describe(&e)), last: Some(e) }),
            Err(_) => Err(ConnectFailure {
                text: format!("{}: no answer within {:?} (connect_timeout)", target.describe(), self.connect_timeout),
                last: None,
            }),
        }
    }
}

impl ConnectFailure {
    /// The server answered and refused (pg_hba), as opposed to a network failure.
    fn refused_by_server(&self) -> bool {
        self.last.as_ref().and_then(|e| e.as_db_error()).is_some_and(|db| db.code().code() == "28000")
    }
}

/// A connect error as a person reads it: the server's message and SQLSTATE, or the cause chain.
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let next = s.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The pool's way of opening connections: this connector, the connection driven by a task.
pub(crate) struct PoolConnect(pub(crate) Connector);

impl deadpool_postgres::Connect for PoolConnect {
    fn connect(
        &self,
        _: &Config,
    ) -> futures_util::future::BoxFuture<
        '_,
        std::result::Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>,
    > {
        Box::pin(async move {
            match self.0.connect().await {
                Ok((client, connection)) => {
                    let driver = tokio::spawn(async move {
                        if let Err(e) = connection.await {
                            tracing::debug!("pgmq: pool connection ended: {e}");
                        }
                    });
                    Ok((client, driver))
                }
                Err(f) => {
                    tracing::warn!("pgmq: could not open a pool connection: {}", f.text);
                    Err(f.last.unwrap_or_else(tokio_postgres::Error::__private_api_timeout))
                }
            }
        })
    }
}

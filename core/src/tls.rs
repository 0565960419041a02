//! TLS for every connection of a client (pool and LISTEN alike): rustls with the `ring` provider, so the
//! same statically linked code runs in wheels, npm addons and mobile libraries, with no OpenSSL.
//!
//! libpq's `sslmode` decides what is checked: `prefer`/`require`/`allow` encrypt without authenticating
//! the server (unless `require` has a root file, which makes it `verify-ca`), `verify-ca` checks the
//! chain, `verify-full` the chain and the host name. The roots are a PEM file (`sslrootcert`) or the
//! operating system's store (`sslrootcert=system`, through `rustls-platform-verifier`, falling back to
//! the Mozilla roots of `webpki-roots` where the platform has none). The stream offers the
//! `tls-server-end-point` channel binding, so SCRAM-SHA-256-PLUS works.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use crate::dsn::{RootSource, SslMode, TlsParams};
use crate::error::{Error, Result};

/// The TLS connector of one client, built once from its DSN and shared by all its connections.
#[derive(Clone)]
pub(crate) struct Tls {
    config: Arc<ClientConfig>,
    /// Where the roots came from, for error messages ("not signed by a CA in /etc/ca.pem").
    roots: Arc<str>,
}

/// ring's provider: deprecated since rustls 0.23.48 only because ring has no post-quantum key
/// exchange (that needs aws-lc-rs, a C build this project keeps out so that every platform builds the
/// same pure-Rust-and-asm code).
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Tls {
    /// The connector for these parameters (unused with `sslmode=disable`). Reads the root and client
    /// certificate files now, so a missing or malformed file fails the connect with a clear
    /// [`Error::InvalidOption`] instead of every handshake.
    pub(crate) fn new(params: &TlsParams) -> Result<Tls> {
        let provider = provider();
        let (verifier, roots): (Arc<dyn ServerCertVerifier>, String) = match (&params.roots, params.mode) {
            (None, _) | (_, SslMode::Disable | SslMode::Allow | SslMode::Prefer) => {
                (Arc::new(Unverified(provider.clone())), "no roots (the server is not authenticated)".into())
            }
            (Some(RootSource::File(path)), mode) => {
                let mut store = RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| Error::invalid_option(format!("sslrootcert {}: {e}", path.display())))?;
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(Error::invalid_option(format!(
                        "sslrootcert {}: no usable CA certificate in the file",
                        path.display()
                    )));
                }
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                    .build()
                    .map_err(|e| Error::invalid_option(format!("sslrootcert {}: {e}", path.display())))?;
                let verifier: Arc<dyn ServerCertVerifier> =
                    if mode == SslMode::VerifyFull { webpki } else { Arc::new(ChainOnly(webpki)) };
                (verifier, path.display().to_string())
            }
            (Some(RootSource::System), mode) => {
                let verifier = system_verifier(provider.clone())?;
                let verifier = if mode == SslMode::VerifyFull { verifier } else { Arc::new(ChainOnly(verifier)) };
                (verifier, "the system's trusted roots".into())
            }
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Internal(format!("TLS protocol versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &params.client_cert {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<std::result::Result<Vec<_>, _>>())
                    .map_err(|e| Error::invalid_option(format!("sslcert {}: {e}", cert.display())))?;
                if chain.is_empty() {
                    return Err(Error::invalid_option(format!("sslcert {}: no certificate in the file", cert.display())));
                }
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| Error::invalid_option(format!("sslkey {}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| Error::invalid_option(format!("sslcert/sslkey: {e}")))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Tls { config: Arc::new(config), roots: roots.into() })
    }
}

/// The platform's verifier (OS store), or the Mozilla roots where the platform offers none.
fn system_verifier(provider: Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>> {
    match rustls_platform_verifier::Verifier::new(provider.clone()) {
        Ok(v) => Ok(Arc::new(v)),
        Err(e) => {
            tracing::debug!("pgmq: no platform certificate store ({e}); using the Mozilla roots");
            let store = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map(|v| v as Arc<dyn ServerCertVerifier>)
                .map_err(|e| Error::Internal(format!("Mozilla roots: {e}")))
        }
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the names in the certificate are not checked.
#[derive(Debug)]
struct ChainOnly(Arc<dyn ServerCertVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name only once the chain is valid, so a name error means a trusted chain.
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer`/`require` without roots: encrypted, the server not authenticated (libpq's meaning). The
/// handshake signature is still checked, so the session keys belong to whoever holds the certificate.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A handshake failure, said the way an operator can act on it.
#[derive(Debug)]
pub(crate) struct TlsError(String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

fn explain(e: io::Error, host: &str, roots: &str) -> TlsError {
    let tls = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    let text = match tls {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::UnknownIssuer => {
                format!("the server's certificate is not trusted: it is not signed by a CA in {roots} (sslrootcert)")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the server's certificate does not match the host name {host:?} (sslmode=verify-full)")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired".to_owned()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the clocks)".to_owned()
            }
            other => format!("the server's certificate was rejected: {other:?}"),
        },
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("the server ended the TLS handshake ({alert:?}): it may require or reject a client certificate (sslcert/sslkey)")
        }
        Some(other) => format!("TLS handshake failed: {other}"),
        None => format!("TLS handshake failed: {e}"),
    };
    TlsError(text)
}

impl MakeTlsConnect<tokio_postgres::Socket> for Tls {
    type Stream = TlsStream;
    type TlsConnect = TlsConnector;
    type Error = TlsError;

    fn make_tls_connect(&mut self, domain: &str) -> std::result::Result<TlsConnector, TlsError> {
        // A connection by hostaddr alone has no name; the unverified modes do not need one, and the
        // verifying ones then fail with a name mismatch against this placeholder.
        let name = if domain.is_empty() { "unnamed-host.invalid" } else { domain };
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|_| TlsError(format!("{domain:?} is not a valid host name for TLS")))?;
        Ok(TlsConnector { config: self.config.clone(), server_name, roots: self.roots.clone() })
    }
}

/// Connects one socket.
pub(crate) struct TlsConnector {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    roots: Arc<str>,
}

impl TlsConnect<tokio_postgres::Socket> for TlsConnector {
    type Stream = TlsStream;
    type Error = TlsError;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<TlsStream, TlsError>> + Send>>;

    fn connect(self, socket: tokio_postgres::Socket) -> Self::Future {
        Box::pin(async move {
            let host = self.server_name.to_str().into_owned();
            let stream = tokio_rustls::TlsConnector::from(self.config)
                .connect(self.server_name, socket)
                .await
                .map_err(|e| explain(e, &host, &self.roots))?;
            Ok(TlsStream(Box::new(stream)))
        })
    }
}

/// An encrypted connection.
pub(crate) struct TlsStream(Box<tokio_rustls::client::TlsStream<tokio_postgres::Socket>>);

impl tokio_postgres::tls::TlsStream for TlsStream {
    /// `tls-server-end-point` (RFC 5929): the hash of the server's certificate with the hash of its
    /// signature algorithm (SHA-256 for MD5 and SHA-1), which is what PostgreSQL computes on its side.
    fn channel_binding(&self) -> ChannelBinding {
        let (_, conn) = self.0.get_ref();
        let Some(cert) = conn.peer_certificates().and_then(|c| c.first()) else {
            return ChannelBinding::none();
        };
        match signature_hash(cert.as_ref()) {
            Some(alg) => ChannelBinding::tls_server_end_point(ring::digest::digest(alg, cert.as_ref()).as_ref().to_vec()),
            None => ChannelBinding::none(),
        }
    }
}

/// The digest PostgreSQL uses for `tls-server-end-point` with this certificate, read from the DER
/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, ... }`.
fn signature_hash(der: &[u8]) -> Option<&'static ring::digest::Algorithm> {
    let (cert, _) = der_element(der, 0x30)?;
    let (_, rest) = der_element(cert, 0x30)?; // tbsCertificate
    let (alg_id, _) = der_element(rest, 0x30)?;
    let (oid, _) = der_element(alg_id, 0x06)?;
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    use ring::digest::{SHA256, SHA384, SHA512};
    match oid {
        // md5WithRSA (4), sha1WithRSA (5) -> SHA-256 by RFC 5929; sha256/384/512WithRSA (11/12/13)
        [p @ .., 4 | 5 | 11] if p == RSA => Some(&SHA256),
        [p @ .., 12] if p == RSA => Some(&SHA384),
        [p @ .., 13] if p == RSA => Some(&SHA512),
        // ecdsa-with-SHA1 (1) -> SHA-256; ecdsa-with-SHA256/384/512 (3.2/3.3/3.4)
        [p @ .., 1] if p == ECDSA => Some(&SHA256),
        [p @ .., 3, 2] if p == ECDSA => Some(&SHA256),
        [p @ .., 3, 3] if p == ECDSA => Some(&SHA384),
        [p @ .., 3, 4] if p == ECDSA => Some(&SHA512),
        _ => None,
    }
}

/// One DER element with this tag at the start of `input`: (its content, what follows it).
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| (&rest[..len], &rest[len..]))
}

impl AsyncRead for TlsStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_in_short_and_long_form() {
        assert_eq!(der_element(&[0x30, 0x02, 1, 2, 9], 0x30), Some((&[1u8, 2][..], &[9u8][..])));
        let long = [&[0x30u8, 0x81, 0x03][..], &[7, 8, 9]].concat();
        assert_eq!(der_element(&long, 0x30), Some((&[7u8, 8, 9][..], &[][..])));
        assert_eq!(der_element(&[0x30, 0x05, 1], 0x30), None, "truncated");
        assert_eq!(der_element(&[0x31, 0x00], 0x30), None, "other tag");
    }
}

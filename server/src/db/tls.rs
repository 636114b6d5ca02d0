//! TLS to PostgreSQL through rustls, verifying the server as libpq's
//! `sslmode` says (https://www.postgresql.org/docs/current/libpq-ssl.html):
//!
//! | sslmode             | TLS                    | server certificate checked      |
//! |---------------------|------------------------|---------------------------------|
//! | disable             | never                  | -                               |
//! | prefer (default)    | if the server offers it| chain, only if a CA file is set |
//! | require             | always                 | chain, only if a CA file is set |
//! | verify-ca           | always                 | chain                           |
//! | verify-full         | always                 | chain and host name             |
//!
//! The chain is checked against the CA file (`sslrootcert=` in the URL, else
//! `--db-ca-file`), or for verify-* without one, the platform's roots.
//! Deliberate differences from libpq: a CA file that is named but cannot be
//! read is an error whenever TLS may be used (libpq silently skips
//! verification when its file is missing), and under `prefer` a failed
//! verification is an error, not a retry in plain text. libpq's default
//! `~/.postgresql/root.crt` is not read: the CA file is always explicit.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conninfo::{RootCert, SslMode};

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Encryption against a passive eavesdropper only: anyone who can
    /// intercept the connection can present any certificate.
    None,
    /// Signed by a trusted CA, for any host name.
    Chain,
    /// Signed by a trusted CA and issued for the host connected to.
    ChainAndName,
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::None => "not checked",
            Verification::Chain => "chain checked",
            Verification::ChainAndName => "chain and host name checked",
        }
    }
}

/// What `sslmode` and the CA file ask for: the verification, and where its
/// trusted roots come from (`None`: the platform's).
pub fn verification(mode: SslMode, root_cert: Option<&RootCert>) -> Result<Verification, String> {
    if root_cert == Some(&RootCert::System) && mode != SslMode::VerifyFull {
        // libpq's rule: the public roots vouch for any name under them, so
        // only a name check makes them meaningful.
        return Err(
            "sslrootcert=system needs sslmode=verify-full (the platform's roots trust any \
             certificate they signed, for any server)"
                .to_string(),
        );
    }
    Ok(match (mode, root_cert) {
        (SslMode::VerifyFull, _) => Verification::ChainAndName,
        (SslMode::VerifyCa, _) => Verification::Chain,
        (SslMode::Disable, _) => Verification::None,
        // libpq verifies the chain under prefer/require as soon as it has a
        // root certificate file.
        (SslMode::Prefer | SslMode::Require, Some(RootCert::File(_))) => Verification::Chain,
        (SslMode::Prefer | SslMode::Require, _) => Verification::None,
    })
}

/// The connector tokio-postgres uses for every connection of a pool or CLI
/// command: rustls with aws-lc-rs (the provider reqwest already builds).
pub fn connector(
    verification: Verification,
    root_cert: Option<&RootCert>,
) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut config = match verification {
        Verification::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient {
                chain_to: None,
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Verification::Chain => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient {
                chain_to: Some(Arc::new(roots(root_cert)?)),
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Verification::ChainAndName => {
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots(root_cert)?), provider)
                    .build()
                    .map_err(|e| format!("TLS setup: {e}"))?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        }
    };
    // What libpq 17 sends: required by servers that accept direct TLS
    // (`sslnegotiation=direct`), ignored by older ones.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(MakeRustlsConnect::new(config))
}

fn roots(root_cert: Option<&RootCert>) -> Result<RootCertStore, String> {
    match root_cert {
        Some(RootCert::File(path)) => ca_file_roots(path),
        Some(RootCert::System) | None => platform_roots(),
    }
}

/// Every certificate of a PEM file, each of which must be usable as a root.
fn ca_file_roots(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read CA file {shown}: {e}"))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| format!("CA file {shown} is not valid PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("CA file {shown} holds an unusable certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "CA file {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(roots)
}

fn platform_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(format!(
            "sslmode=verify-* without a CA file needs the platform's trusted roots, and none \
             were found ({}); pass --db-ca-file or sslrootcert=",
            if errors.is_empty() {
                "no certificates".to_string()
            } else {
                errors.join("; ")
            }
        ));
    }
    Ok(roots)
}

/// A certificate check weaker than rustls' own (which is `verify-full`):
/// `sslmode=require` without a CA accepts any certificate, as libpq does;
/// `sslmode=verify-ca` wants a chain to a trusted root, whatever name the
/// certificate carries. The handshake signatures are checked either way, so
/// the peer holds the key of the certificate it sent.
#[derive(Debug)]
struct Lenient {
    /// The roots the chain must lead to (`verify-ca`), or none (`require`).
    chain_to: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.chain_to {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A rustls error somewhere in `error`'s sources (tokio-postgres wraps it
/// in an `io::Error`), for telling a refused certificate from an outage.
pub fn rustls_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(found) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file() -> RootCert {
        RootCert::File(PathBuf::from("/ca.pem"))
    }

    #[test]
    fn verification_follows_libpq() {
        use SslMode::*;
        use Verification as V;
        let cases = [
            (Disable, None, V::None),
            (Prefer, None, V::None),
            (Require, None, V::None),
            (Prefer, Some(file()), V::Chain),
            (Require, Some(file()), V::Chain),
            (VerifyCa, None, V::Chain),
            (VerifyCa, Some(file()), V::Chain),
            (VerifyFull, None, V::ChainAndName),
            (VerifyFull, Some(file()), V::ChainAndName),
            (VerifyFull, Some(RootCert::System), V::ChainAndName),
        ];
        for (mode, root, expected) in cases {
            assert_eq!(
                verification(mode, root.as_ref()),
                Ok(expected),
                "{mode:?} {root:?}"
            );
        }
        for weak in [Prefer, Require, VerifyCa] {
            assert!(verification(weak, Some(&RootCert::System)).is_err());
        }
    }

    #[test]
    fn a_ca_file_must_exist_and_hold_certificates() {
        let missing = connector(
            Verification::ChainAndName,
            Some(&RootCert::File(PathBuf::from("/nonexistent/ca.pem"))),
        )
        .err()
        .unwrap_or_default();
        assert!(
            missing.contains("cannot read CA file /nonexistent/ca.pem"),
            "{missing}"
        );

        let dir = std::env::temp_dir().join(format!("anitrack-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = connector(Verification::Chain, Some(&RootCert::File(empty)))
            .err()
            .unwrap_or_default();
        assert!(error.contains("holds no PEM certificate"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_verification_needs_no_roots() {
        assert!(connector(Verification::None, None).is_ok());
    }
}

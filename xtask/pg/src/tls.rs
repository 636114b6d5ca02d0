//! Certificates for a PostgreSQL cluster that speaks TLS: a throwaway CA,
//! and a server certificate it signs for [`SERVER_NAME`] only, so that a
//! client connecting by any other name (`127.0.0.1`) must refuse it when it
//! checks names. Made with rcgen (pure Rust, on the aws-lc-rs provider the
//! workspace already builds) so the suite needs no `openssl` binary.

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The one name the server certificate is issued for.
pub const SERVER_NAME: &str = "localhost";

/// PEM texts for a TLS server and the CA that vouches for it.
pub struct ServerCertificates {
    /// The CA's certificate: what a verifying client trusts.
    pub ca_pem: String,
    /// The server's certificate, signed by the CA, for [`SERVER_NAME`].
    pub cert_pem: String,
    /// The server certificate's private key (PKCS#8).
    pub key_pem: String,
}

/// A fresh CA and a server certificate it signed for [`SERVER_NAME`].
pub fn server_certificates() -> Result<ServerCertificates> {
    let (ca_params, ca_key) = ca("AniTrack conformance CA")?;
    let ca_pem = ca_params
        .self_signed(&ca_key)
        .context("self-signing the test CA")?
        .pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(vec![SERVER_NAME.to_string()])
        .context("server certificate parameters")?;
    params
        .distinguished_name
        .push(DnType::CommonName, SERVER_NAME);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().context("generating the server key")?;
    let cert_pem = params
        .signed_by(&key, &issuer)
        .context("signing the server certificate")?
        .pem();
    Ok(ServerCertificates {
        ca_pem,
        cert_pem,
        key_pem: key.serialize_pem(),
    })
}

/// A CA certificate that signed nothing the server holds: trusting only it
/// must make a verifying client refuse the server.
pub fn unrelated_ca_pem() -> Result<String> {
    let (params, key) = ca("Unrelated CA")?;
    Ok(params
        .self_signed(&key)
        .context("self-signing the unrelated CA")?
        .pem())
}

fn ca(name: &str) -> Result<(CertificateParams, KeyPair)> {
    let mut params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().context("generating a CA key")?;
    Ok((params, key))
}

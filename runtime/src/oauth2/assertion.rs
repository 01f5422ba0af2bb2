//! Signed JWT assertions (RFC 7523): client authentication (`private_key_jwt`,
//! `client_secret_jwt`) and the JWT bearer grant.
//!
//! Signed with `jsonwebtoken` on aws-lc-rs: the TLS stack (reqwest's rustls) already
//! brings aws-lc-rs, so no second crypto library comes in.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::options::Pem;
use crate::{SigningAlgorithm, TokenError};

/// How long an assertion is valid: long enough for clock skew, short enough that a copy
/// is useless soon (servers also refuse a `jti` seen before).
const LIFETIME: Duration = Duration::from_secs(60);

/// A key ready to sign assertions, with its header (`alg`, `kid`).
pub(crate) struct Signer {
    key: EncodingKey,
    header: Header,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl Signer {
    /// A signer of `private_key` (a PEM, read now): its algorithm as configured, RS256 if
    /// none is; `what` names the option in errors.
    pub(crate) fn private_key(
        private_key: &Pem,
        algorithm: Option<SigningAlgorithm>,
        key_id: Option<&str>,
    ) -> Result<Self, TokenError> {
        let pem = private_key.load("PrivateKey")?;
        let algorithm = algorithm.unwrap_or(SigningAlgorithm::RS256);
        let invalid = |kind: &str| {
            TokenError::InvalidOptions(format!(
                "`PrivateKey` is not {kind} private key in PEM, as `SigningAlgorithm` \
                 {algorithm:?} needs"
            ))
        };
        let (key, alg) = match algorithm {
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => {
                let key = EncodingKey::from_rsa_pem(&pem).map_err(|_| invalid("an RSA"))?;
                let alg = if algorithm == SigningAlgorithm::RS256 {
                    Algorithm::RS256
                } else {
                    Algorithm::PS256
                };
                (key, alg)
            }
            SigningAlgorithm::ES256 => (
                EncodingKey::from_ec_pem(&pem).map_err(|_| invalid("a P-256 EC"))?,
                Algorithm::ES256,
            ),
            SigningAlgorithm::EdDSA => (
                EncodingKey::from_ed_pem(&pem).map_err(|_| invalid("an Ed25519"))?,
                Algorithm::EdDSA,
            ),
            SigningAlgorithm::HS256 => {
                return Err(TokenError::InvalidOptions(
                    "`SigningAlgorithm` HS256 signs with the client secret \
                     (`ClientAuth` `ClientSecretJwt`), not with a private key"
                        .to_owned(),
                ));
            }
        };
        let signer = Self::new(key, alg, key_id);
        // A key of the right kind that cannot sign (a P-384 key for ES256...) fails now,
        // naming the option, rather than at every token request.
        signer
            .sign("check", "check", "check")
            .map_err(|_| invalid("a usable"))?;
        Ok(signer)
    }

    /// A signer of HS256 assertions with the client secret (`client_secret_jwt`).
    pub(crate) fn client_secret(secret: &str, key_id: Option<&str>) -> Result<Self, TokenError> {
        if secret.is_empty() {
            return Err(TokenError::InvalidOptions(
                "`ClientAuth` `ClientSecretJwt` needs a `ClientSecret`".to_owned(),
            ));
        }
        let key = EncodingKey::from_secret(secret.as_bytes()).map_err(|error| {
            TokenError::InvalidOptions(format!("`ClientSecret` cannot sign: {error}"))
        })?;
        Ok(Self::new(key, Algorithm::HS256, key_id))
    }

    fn new(key: EncodingKey, alg: Algorithm, key_id: Option<&str>) -> Self {
        let mut header = Header::new(alg);
        header.kid = key_id.map(str::to_owned);
        Self { key, header }
    }

    /// A fresh assertion: `iss`, `sub`, `aud` as given, a unique `jti`, issued now,
    /// expiring in a minute.
    pub(crate) fn sign(&self, iss: &str, sub: &str, aud: &str) -> Result<String, TokenError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            iss,
            sub,
            aud,
            jti: unique_id(),
            iat: now,
            exp: now.saturating_add(LIFETIME.as_secs()),
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(|error| {
            TokenError::InvalidOptions(format!("cannot sign the assertion: {error}"))
        })
    }
}

/// 128 bits no other assertion of this process or another has: a counter and the time,
/// mixed with per-process random keys.
fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::LazyLock<(RandomState, RandomState)> =
        std::sync::LazyLock::new(|| (RandomState::new(), RandomState::new()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let high = KEYS.0.hash_one((n, nanos));
    let low = KEYS.1.hash_one((nanos, n));
    format!("{high:016x}{low:016x}")
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("alg", &self.header.alg)
            .field("kid", &self.header.kid)
            .finish_non_exhaustive()
    }
}

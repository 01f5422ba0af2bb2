//! A throwaway test CA and a server certificate it signed (for `localhost` and
//! `127.0.0.1`), made with the `openssl` command once per test binary: for the HTTPS of
//! the OpenID provider and the TLS of redis-server.
//!
//! The openssl command must be installed: without it every test using these fails and
//! says so.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The CA and the server certificate, EC P-256, in a temp dir of their own.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// The CA certificate, a PEM file.
    pub fn ca_pem_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The CA certificate, PEM: for `reqwest::Certificate::from_pem`.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.ca_pem_path()).expect("the test CA")
    }

    /// The CA's private key, a PEM file: for signing more certificates.
    pub fn ca_key_path(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    /// The server certificate (`localhost`, `127.0.0.1`), a PEM file.
    pub fn server_cert_path(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The server certificate's private key, a PEM file.
    pub fn server_key_path(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}

/// The test CA and server certificate, made on first use.
pub fn test_pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("token-client-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", dir.display()));
        let openssl = |args: &[&str]| openssl(&dir, args);
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=token-client test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        Pki { dir }
    })
}

/// Runs `openssl <args>` in `dir`, panicking with its stderr if it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!("these tests need the openssl command (Debian's openssl package): {error}")
        });
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

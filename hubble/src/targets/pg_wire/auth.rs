//! Password exchanges: MD5 (`md5` in `pg_hba.conf`) and SCRAM-SHA-256 (RFC 5802 and 7677, without channel
//! binding, as libpq's `channel_binding=disable`).

use base64::Engine as _;
use ring::{digest, hmac, pbkdf2};

use super::WireError;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The answer to an MD5 request: `md5` and the hex MD5 of (the hex MD5 of password and user) and the salt.
pub(super) fn md5_password(user: &str, password: &str, salt: [u8; 4]) -> String {
    use md5::{Digest as _, Md5};
    let inner = hex(&Md5::new()
        .chain_update(password)
        .chain_update(user)
        .finalize());
    let outer = Md5::new().chain_update(inner).chain_update(salt).finalize();
    format!("md5{}", hex(&outer))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A SCRAM-SHA-256 exchange in progress.
pub(super) struct Scram {
    /// The password after SASLprep (as is when it does not pass it, as the server does).
    password: Vec<u8>,
    client_first_bare: String,
    nonce: String,
    /// What the server's last message must prove, once the client's final message is made.
    server_signature: Option<[u8; 32]>,
}

impl Scram {
    /// Starts an exchange; `user` goes in the first message (PostgreSQL ignores it and sends it empty).
    pub(super) fn new(user: &str, password: &str, nonce: String) -> Scram {
        let password = stringprep::saslprep(password)
            .map(|p| p.into_owned())
            .unwrap_or_else(|_| password.to_owned());
        Scram {
            password: password.into_bytes(),
            client_first_bare: format!("n={user},r={nonce}"),
            nonce,
            server_signature: None,
        }
    }

    /// A client nonce: 18 random bytes, base64.
    pub(super) fn nonce() -> Result<String, WireError> {
        let mut bytes = [0u8; 18];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| WireError::Auth("no randomness for a SCRAM nonce".into()))?;
        Ok(B64.encode(bytes))
    }

    /// The client's first message: no channel binding, then the bare part.
    pub(super) fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// The client's final message, from the server's first (`r=nonce,s=salt,i=iterations`).
    pub(super) fn client_final(&mut self, server_first: &[u8]) -> Result<String, WireError> {
        let bad = |what: &str| WireError::Auth(format!("the server's first SCRAM message {what}"));
        let server_first = std::str::from_utf8(server_first).map_err(|_| bad("is not UTF-8"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for part in server_first.split(',') {
            match part.split_at_checked(2) {
                Some(("r=", v)) => nonce = Some(v),
                Some(("s=", v)) => salt = Some(B64.decode(v).map_err(|_| bad("has a bad salt"))?),
                Some(("i=", v)) => iterations = v.parse::<u32>().ok(),
                _ => {}
            }
        }
        let nonce = nonce.ok_or_else(|| bad("has no nonce"))?;
        let salt = salt.ok_or_else(|| bad("has no salt"))?;
        let iterations = iterations
            .and_then(std::num::NonZeroU32::new)
            .ok_or_else(|| bad("has no iteration count"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(bad("does not extend the client's nonce"));
        }
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            &self.password,
            &mut salted,
        );
        let salted = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
        // `biws` is base64 of the header `n,,`.
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(signature.as_ref())
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac::sign(&salted, b"Server Key");
        let server_signature = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, server_key.as_ref()),
            auth_message.as_bytes(),
        );
        self.server_signature = Some(
            server_signature
                .as_ref()
                .try_into()
                .expect("SHA-256 is 32 bytes"),
        );
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server's final message: it proves the server knew the password's verifier.
    pub(super) fn verify_server(&self, server_final: &[u8]) -> Result<(), WireError> {
        let refused = |why: String| WireError::Auth(format!("SCRAM: {why}"));
        let text = String::from_utf8_lossy(server_final);
        if let Some(e) = text.strip_prefix("e=") {
            return Err(refused(format!("the server refused: {e}")));
        }
        let expected = self
            .server_signature
            .ok_or_else(|| refused("the server ended the exchange early".into()))?;
        let given = text
            .split(',')
            .find_map(|p| p.strip_prefix("v="))
            .and_then(|v| B64.decode(v).ok())
            .ok_or_else(|| refused("the server's final message has no signature".into()))?;
        if given != expected {
            return Err(refused(
                "the server's signature is wrong: it does not know this password".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677, section 3.
    #[test]
    fn scram_sha_256_follows_the_rfc_example() {
        let mut scram = Scram::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO".into());
        assert_eq!(scram.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first =
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            scram.client_final(server_first).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        scram
            .verify_server(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        let wrong = scram.verify_server(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        assert!(wrong.unwrap_err().to_string().contains("does not know"));
    }

    #[test]
    fn a_server_that_does_not_extend_the_nonce_is_refused() {
        let mut scram = Scram::new("", "pencil", "abc".into());
        for first in [
            &b"r=xyz,s=AAAA,i=4096"[..],
            b"r=abc,s=AAAA,i=4096",
            b"r=abcd,s=AAAA",
        ] {
            assert!(scram.client_final(first).is_err(), "{first:?}");
        }
        assert!(scram.verify_server(b"e=invalid-proof").is_err());
    }

    #[test]
    fn md5_answers_as_libpq() {
        // SELECT 'md5' || md5(md5('secret' || 'mon') || 'abcd'), the salt being the bytes of 'abcd'.
        assert_eq!(
            md5_password("mon", "secret", *b"abcd"),
            "md58d42a0eb60fe8fe28d9f6148c5e05696"
        );
    }
}

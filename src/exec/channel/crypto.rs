//! The KMS-mode payload cipher (protocol.md §6): AES-256-GCM, a random
//! 12-byte nonce per message, no associated data, wire form
//! `nonce ‖ ciphertext ‖ tag`. The 64-byte data key from
//! `kms:GenerateDataKey` splits in two: bytes 0..32 decrypt what the agent
//! sends, bytes 32..64 encrypt what the client sends.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

/// Bytes asked of GenerateDataKey: two AES-256 keys.
pub(crate) const DATA_KEY_LEN: usize = 64;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// Why a payload could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The data key is not 64 bytes.
    #[error("KMS data key is {0} bytes, expected 64")]
    KeyLength(usize),
    /// Shorter than a nonce and a tag.
    #[error("encrypted payload of {0} bytes is too short")]
    TooShort(usize),
    /// Authentication failed (wrong key or corrupted data).
    #[error("encrypted payload failed authentication")]
    Open,
    /// The system random source or the cipher failed.
    #[error("encryption failed")]
    Seal,
}

/// The two session keys. `Debug` never shows them.
pub struct SessionCipher {
    encrypt: LessSafeKey,
    decrypt: LessSafeKey,
}

impl fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionCipher { <keys redacted> }")
    }
}

impl SessionCipher {
    /// The client's cipher from the GenerateDataKey plaintext.
    pub fn from_data_key(plaintext: &[u8]) -> Result<Self, CryptoError> {
        if plaintext.len() != DATA_KEY_LEN {
            return Err(CryptoError::KeyLength(plaintext.len()));
        }
        let (decrypt, encrypt) = plaintext.split_at(KEY_LEN);
        Self::from_keys(encrypt, decrypt)
    }

    /// A cipher from its two 32-byte keys (the agent's side of a data key is
    /// `from_keys(&key[..32], &key[32..])`).
    pub fn from_keys(encrypt: &[u8], decrypt: &[u8]) -> Result<Self, CryptoError> {
        let key = |bytes: &[u8]| {
            UnboundKey::new(&AES_256_GCM, bytes)
                .map(LessSafeKey::new)
                .map_err(|_| CryptoError::KeyLength(bytes.len() * 2))
        };
        Ok(Self {
            encrypt: key(encrypt)?,
            decrypt: key(decrypt)?,
        })
    }

    /// `nonce ‖ ciphertext ‖ tag` of `plain` under the encrypt key.
    pub fn encrypt(&self, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        self.encrypt
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut body)
            .map_err(|_| CryptoError::Seal)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The plaintext of a `nonce ‖ ciphertext ‖ tag` payload under the decrypt key.
    pub fn decrypt(&self, wire: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if wire.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::TooShort(wire.len()));
        }
        let (nonce, body) = wire.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Open)?;
        let mut body = body.to_vec();
        let plain_len = self
            .decrypt
            .open_in_place(nonce, Aad::empty(), &mut body)
            .map_err(|_| CryptoError::Open)?
            .len();
        body.truncate(plain_len);
        Ok(body)
    }
}

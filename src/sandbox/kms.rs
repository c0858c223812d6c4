//! KMS as far as ECS Exec encryption needs it (`TrentService.*`, awsJson1_1):
//! GenerateDataKey, Decrypt and DescribeKey on the world's keys.
//!
//! Keys are the world file's `kms_keys`, plus one derived for every cluster
//! whose `executeCommandConfiguration` names a `kmsKeyId` no listed key has.
//! A CiphertextBlob is AES-256-GCM under a secret of the sandbox and the key
//! (so only this sandbox opens it), with the encryption context bound as
//! associated data: Decrypt with another context fails, as in KMS.

use std::collections::BTreeMap;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::wire::{json_input, timestamp, ApiError, ServiceId};
use super::world::{partition, uuid_id, KmsKey, World};

/// First bytes of every CiphertextBlob the sandbox makes.
const BLOB_MAGIC: &[u8] = b"ECSXKMS1";
/// The only algorithm of a symmetric key.
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// The sandbox's own secret: every key's encryption key is derived from it.
#[derive(Clone)]
pub(crate) struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// 32 random bytes.
    pub(crate) fn random() -> Secret {
        let mut bytes = [0u8; 32];
        random_fill(&mut bytes);
        Secret(bytes)
    }

    /// The AES-256 key of one KMS key (SHA-256 gives the 32 bytes it takes).
    fn key_for(&self, key_arn: &str) -> Option<LessSafeKey> {
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(key_arn.as_bytes());
        let derived = hasher.finalize();
        UnboundKey::new(&AES_256_GCM, &derived)
            .ok()
            .map(LessSafeKey::new)
    }
}

/// Random bytes from the system generator (aws-lc).
pub(crate) fn random_fill(buf: &mut [u8]) {
    if aws_lc_rs::rand::fill(buf).is_err() {
        // The system generator does not fail on Linux; fall back to UUIDs.
        for chunk in buf.chunks_mut(16) {
            let id = uuid::Uuid::new_v4();
            chunk.copy_from_slice(&id.as_bytes()[..chunk.len()]);
        }
    }
}

/// A key as a request resolves it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ResolvedKey {
    pub id: String,
    pub arn: String,
    pub enabled: bool,
    pub description: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What a KeyId names: a key id, a key ARN, an alias name or an alias ARN.
enum KeyRef<'a> {
    Id(&'a str),
    Alias(&'a str),
}

fn parse_ref(reference: &str) -> KeyRef<'_> {
    let resource = if reference.starts_with("arn:") {
        reference.splitn(6, ':').nth(5).unwrap_or("")
    } else {
        reference
    };
    if resource.starts_with("alias/") {
        KeyRef::Alias(resource)
    } else {
        KeyRef::Id(resource.strip_prefix("key/").unwrap_or(resource))
    }
}

fn key_arn(world: &World, id: &str) -> String {
    format!(
        "arn:{}:kms:{}:{}:key/{id}",
        partition(&world.region),
        world.region,
        world.account
    )
}

fn resolved(world: &World, k: &KmsKey) -> ResolvedKey {
    ResolvedKey {
        id: k.id.clone(),
        arn: k.arn.clone().unwrap_or_else(|| key_arn(world, &k.id)),
        enabled: k.enabled,
        description: k.description.clone(),
        created_at: k.created_at,
    }
}

/// The key a KeyId names, among the world's keys and those its clusters' exec
/// configurations name.
pub(crate) fn find_key(world: &World, reference: &str) -> Option<ResolvedKey> {
    let wanted = parse_ref(reference);
    let listed = world.kms_keys.iter().find(|k| match wanted {
        KeyRef::Id(id) => k.id == id,
        KeyRef::Alias(alias) => k.aliases.iter().any(|a| a == alias),
    });
    if let Some(k) = listed {
        return Some(resolved(world, k));
    }
    world
        .clusters
        .iter()
        .filter_map(|c| {
            c.execute_command_configuration
                .as_ref()?
                .kms_key_id
                .as_deref()
        })
        .find_map(|named| {
            let key = derived_key(world, named)?;
            let named_so =
                same_ref(named, reference) || matches!(wanted, KeyRef::Id(id) if id == key.id);
            named_so.then_some(key)
        })
}

/// Whether two KeyIds name the same thing (an id and its ARN, an alias and its ARN).
fn same_ref(a: &str, b: &str) -> bool {
    match (parse_ref(a), parse_ref(b)) {
        (KeyRef::Id(x), KeyRef::Id(y)) | (KeyRef::Alias(x), KeyRef::Alias(y)) => x == y,
        _ => false,
    }
}

/// The key a cluster's `kmsKeyId` stands for when no listed key is it.
fn derived_key(world: &World, named: &str) -> Option<ResolvedKey> {
    let (id, arn) = match parse_ref(named) {
        KeyRef::Id("") => return None,
        KeyRef::Id(id) => {
            let arn = if named.starts_with("arn:") {
                named.to_string()
            } else {
                key_arn(world, id)
            };
            (id.to_string(), arn)
        }
        KeyRef::Alias(alias) => {
            let id = uuid_id(&format!("kms/{alias}"));
            let arn = key_arn(world, &id);
            (id, arn)
        }
    };
    Some(ResolvedKey {
        id,
        arn,
        enabled: true,
        description: "ECS Exec session key (derived by the ecsx sandbox)".to_string(),
        created_at: world.epoch - chrono::Duration::days(30),
    })
}

fn not_found(reference: &str) -> ApiError {
    match parse_ref(reference) {
        KeyRef::Alias(_) => ApiError::new(
            "NotFoundException",
            format!("Alias {reference} is not found."),
        ),
        KeyRef::Id(_) => ApiError::new(
            "NotFoundException",
            format!("Key '{reference}' does not exist"),
        ),
    }
}

fn usable_key(world: &World, reference: &str) -> Result<ResolvedKey, ApiError> {
    if reference.is_empty() {
        return Err(ApiError::new(
            "ValidationException",
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
        ));
    }
    let key = find_key(world, reference).ok_or_else(|| not_found(reference))?;
    if !key.enabled {
        return Err(ApiError::new(
            "DisabledException",
            format!("{} is disabled.", key.arn),
        ));
    }
    Ok(key)
}

/// The encryption context as associated data: sorted `key=value` pairs.
fn context_aad(key_arn: &str, context: &BTreeMap<String, String>) -> Vec<u8> {
    let mut aad = key_arn.as_bytes().to_vec();
    for (k, v) in context {
        aad.push(0);
        aad.extend_from_slice(k.as_bytes());
        aad.push(b'=');
        aad.extend_from_slice(v.as_bytes());
    }
    aad
}

/// A CiphertextBlob of `plaintext` under `key_arn`, bound to `context`.
pub(crate) fn seal_blob(
    secret: &Secret,
    key_arn: &str,
    context: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    random_fill(&mut nonce);
    let mut body = plaintext.to_vec();
    let sealed = secret.key_for(key_arn).map(|key| {
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context_aad(key_arn, context)),
            &mut body,
        )
    });
    if !matches!(sealed, Some(Ok(()))) {
        // Cannot happen with a 32-byte key; an empty body never opens.
        body.clear();
    }
    let arn_len = u16::try_from(key_arn.len()).unwrap_or(u16::MAX);
    let mut blob =
        Vec::with_capacity(BLOB_MAGIC.len() + 2 + key_arn.len() + NONCE_LEN + body.len());
    blob.extend_from_slice(BLOB_MAGIC);
    blob.extend_from_slice(&arn_len.to_be_bytes());
    blob.extend_from_slice(&key_arn.as_bytes()[..usize::from(arn_len)]);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&body);
    blob
}

/// The key ARN a blob names, and the rest (nonce ‖ ciphertext ‖ tag).
fn split_blob(blob: &[u8]) -> Option<(&str, &[u8])> {
    let rest = blob.strip_prefix(BLOB_MAGIC)?;
    let (len, rest) = rest.split_at_checked(2)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let (arn, rest) = rest.split_at_checked(len)?;
    Some((std::str::from_utf8(arn).ok()?, rest))
}

fn invalid_ciphertext() -> ApiError {
    ApiError::new("InvalidCiphertextException", "")
}

/// Open a CiphertextBlob: its key ARN and plaintext, when `context` is the
/// one it was sealed with.
pub(crate) fn open_blob(
    secret: &Secret,
    blob: &[u8],
    context: &BTreeMap<String, String>,
) -> Result<(String, Vec<u8>), ApiError> {
    let (arn, sealed) = split_blob(blob).ok_or_else(invalid_ciphertext)?;
    let (nonce, body) = sealed
        .split_at_checked(NONCE_LEN)
        .ok_or_else(invalid_ciphertext)?;
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| invalid_ciphertext())?;
    let mut body = body.to_vec();
    let key = secret.key_for(arn).ok_or_else(invalid_ciphertext)?;
    let plain_len = key
        .open_in_place(nonce, Aad::from(context_aad(arn, context)), &mut body)
        .map_err(|_| invalid_ciphertext())?
        .len();
    body.truncate(plain_len);
    Ok((arn.to_string(), body))
}

/// Answer one KMS operation.
pub(crate) fn handle(
    world: &World,
    secret: &Secret,
    operation: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    match operation {
        "GenerateDataKey" => generate_data_key(world, secret, json_input(body)?),
        "Decrypt" => decrypt(world, secret, json_input(body)?),
        "DescribeKey" => describe_key(world, json_input(body)?),
        other => Err(ApiError::unknown_operation(&ServiceId::Kms, other)),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GenerateDataKeyInput {
    #[serde(default)]
    key_id: String,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    number_of_bytes: Option<i64>,
    key_spec: Option<String>,
}

fn generate_data_key(
    world: &World,
    secret: &Secret,
    input: GenerateDataKeyInput,
) -> Result<Value, ApiError> {
    let bytes = match (input.number_of_bytes, input.key_spec.as_deref()) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::new(
                "ValidationException",
                "Please specify either number of bytes or key spec.",
            ))
        }
        (Some(n), None) if (1..=1024).contains(&n) => n as usize,
        (Some(n), None) => {
            return Err(ApiError::new(
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{n}' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"
                ),
            ))
        }
        (None, Some("AES_256")) => 32,
        (None, Some("AES_128")) => 16,
        (None, Some(other)) => {
            return Err(ApiError::new(
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{other}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
                ),
            ))
        }
    };
    let key = usable_key(world, &input.key_id)?;
    let mut plaintext = vec![0u8; bytes];
    random_fill(&mut plaintext);
    let blob = seal_blob(secret, &key.arn, &input.encryption_context, &plaintext);
    Ok(json!({
        "CiphertextBlob": STANDARD.encode(&blob),
        "Plaintext": STANDARD.encode(&plaintext),
        "KeyId": key.arn,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptInput {
    #[serde(default)]
    ciphertext_blob: String,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
    key_id: Option<String>,
}

fn decrypt(world: &World, secret: &Secret, input: DecryptInput) -> Result<Value, ApiError> {
    let blob = STANDARD
        .decode(input.ciphertext_blob.as_bytes())
        .map_err(|_| ApiError::serialization("CiphertextBlob is not base64."))?;
    let (arn, _) = split_blob(&blob).ok_or_else(invalid_ciphertext)?;
    let key = usable_key(world, arn)?;
    if let Some(named) = input.key_id.as_deref().filter(|k| !k.is_empty()) {
        let named = find_key(world, named).ok_or_else(|| not_found(named))?;
        if named.arn != key.arn {
            return Err(ApiError::new(
                "IncorrectKeyException",
                "The key ID in the request does not identify a CMK that can perform this operation.",
            ));
        }
    }
    let (_, plaintext) = open_blob(secret, &blob, &input.encryption_context)?;
    Ok(json!({
        "KeyId": key.arn,
        "Plaintext": STANDARD.encode(&plaintext),
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeKeyInput {
    #[serde(default)]
    key_id: String,
}

fn describe_key(world: &World, input: DescribeKeyInput) -> Result<Value, ApiError> {
    if input.key_id.is_empty() {
        return Err(ApiError::new(
            "ValidationException",
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
        ));
    }
    let key = find_key(world, &input.key_id).ok_or_else(|| not_found(&input.key_id))?;
    let account = key
        .arn
        .split(':')
        .nth(4)
        .unwrap_or(&world.account)
        .to_string();
    Ok(json!({
        "KeyMetadata": {
            "AWSAccountId": account,
            "KeyId": key.id,
            "Arn": key.arn,
            "CreationDate": timestamp(key.created_at),
            "Enabled": key.enabled,
            "Description": key.description,
            "KeyUsage": "ENCRYPT_DECRYPT",
            "KeyState": if key.enabled { "Enabled" } else { "Disabled" },
            "Origin": "AWS_KMS",
            "KeyManager": "CUSTOMER",
            "CustomerMasterKeySpec": SYMMETRIC_DEFAULT,
            "KeySpec": SYMMETRIC_DEFAULT,
            "EncryptionAlgorithms": [SYMMETRIC_DEFAULT],
            "MultiRegion": false,
        }
    }))
}

//! The node's identity: who it is on the network and how others encrypt to it.
//!
//! A node has two keys, both created on first run in its data directory and loaded after:
//! - an ed25519 keypair: its libp2p `PeerId` and the signer of every record it authors;
//! - an age X25519 identity: models encrypted to its recipient can be read by it alone.
//!
//! Both files are written owner-only (0600) and atomically (temporary file, fsync, rename), so a
//! crash during the first run leaves either no key or a whole key, never half of one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use libp2p_identity::{Keypair, PeerId};

/// File holding the ed25519 keypair (libp2p protobuf encoding).
pub const SIGNING_KEY_FILE: &str = "identity.key";
/// File holding the age X25519 secret key (`AGE-SECRET-KEY-1…`).
pub const AGE_KEY_FILE: &str = "age.key";
/// Key files are secrets: owner read/write only.
pub const KEY_FILE_MODE: u32 = 0o600;
/// Largest key file read back; real ones are under 100 bytes, so anything bigger is not ours.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Why the identity could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading or writing a key file failed.
    #[error("identity file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A key file exists but does not hold a key of the expected kind.
    #[error("identity file {path} is not a valid {kind} key: {reason}")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// `ed25519` or `age X25519`.
        kind: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A key file is readable by others than its owner; refuse to use a leaked-looking key.
    #[error(
        "identity file {path} has mode {mode:o}; it must be readable by its owner only (chmod 600)"
    )]
    TooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The node's two keys.
pub struct Identity {
    keypair: Keypair,
    age: age::x25519::Identity,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("peer_id", &self.peer_id())
            .field("age_recipient", &self.age_recipient().to_string())
            .finish()
    }
}

impl Identity {
    /// Loads the identity from `dir`, creating whichever key is missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, IdentityError> {
        fs::create_dir_all(dir)
            .map_err(|source| IdentityError::Io { path: dir.to_path_buf(), source })?;
        let sign_path = dir.join(SIGNING_KEY_FILE);
        let keypair = match read_secret(&sign_path)? {
            Some(bytes) => {
                Keypair::from_protobuf_encoding(&bytes).map_err(|e| IdentityError::Malformed {
                    path: sign_path.clone(),
                    kind: "ed25519",
                    reason: e.to_string(),
                })?
            }
            None => {
                let kp = Keypair::generate_ed25519();
                let bytes = kp.to_protobuf_encoding().map_err(|e| IdentityError::Malformed {
                    path: sign_path.clone(),
                    kind: "ed25519",
                    reason: e.to_string(),
                })?;
                write_secret(&sign_path, &bytes)?;
                kp
            }
        };
        if keypair.clone().try_into_ed25519().is_err() {
            return Err(IdentityError::Malformed {
                path: sign_path,
                kind: "ed25519",
                reason: "the key is not an ed25519 key".into(),
            });
        }
        let age_path = dir.join(AGE_KEY_FILE);
        let age = match read_secret(&age_path)? {
            Some(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| IdentityError::Malformed {
                    path: age_path.clone(),
                    kind: "age X25519",
                    reason: "not UTF-8".into(),
                })?;
                age::x25519::Identity::from_str(text.trim()).map_err(|e| {
                    IdentityError::Malformed {
                        path: age_path.clone(),
                        kind: "age X25519",
                        reason: e.to_string(),
                    }
                })?
            }
            None => {
                let id = age::x25519::Identity::generate();
                let text = format!("{}\n", id.to_string().expose_secret());
                write_secret(&age_path, text.as_bytes())?;
                id
            }
        };
        Ok(Self { keypair, age })
    }

    /// The libp2p keypair: signs every record this node authors.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The node's network identity.
    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    /// The age identity that decrypts models encrypted to this node.
    pub fn age_identity(&self) -> &age::x25519::Identity {
        &self.age
    }

    /// The public half others encrypt to; published in the node's profile.
    pub fn age_recipient(&self) -> age::x25519::Recipient {
        self.age.to_public()
    }
}

/// Reads a key file if it exists, refusing files others can read.
fn read_secret(path: &Path) -> Result<Option<Vec<u8>>, IdentityError> {
    let io = |source| IdentityError::Io { path: path.to_path_buf(), source };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::TooOpen { path: path.to_path_buf(), mode });
    }
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(IdentityError::Malformed {
            path: path.to_path_buf(),
            kind: "key",
            reason: format!("{} bytes is larger than any key file", meta.len()),
        });
    }
    fs::read(path).map(Some).map_err(io)
}

/// Writes a key file owner-only and atomically.
pub(crate) fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    let io = |source| IdentityError::Io { path: path.to_path_buf(), source };
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(KEY_FILE_MODE)
        .open(&tmp)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    if let Some(parent) = path.parent()
        && let Ok(d) = fs::File::open(parent)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_loaded_with_owner_only_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::load_or_create(dir.path()).unwrap();
        for f in [SIGNING_KEY_FILE, AGE_KEY_FILE] {
            let mode = fs::metadata(dir.path().join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
        let b = Identity::load_or_create(dir.path()).unwrap();
        assert_eq!(a.peer_id(), b.peer_id());
        assert_eq!(a.age_recipient().to_string(), b.age_recipient().to_string());
    }

    #[test]
    fn refuses_group_readable_key() {
        let dir = tempfile::tempdir().unwrap();
        Identity::load_or_create(dir.path()).unwrap();
        let p = dir.path().join(SIGNING_KEY_FILE);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Identity::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::TooOpen { mode: 0o644, .. }), "{err}");
    }

    #[test]
    fn garbage_key_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        write_secret(&dir.path().join(SIGNING_KEY_FILE), b"not a key").unwrap();
        let err = Identity::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, IdentityError::Malformed { kind: "ed25519", .. }), "{err}");
    }
}

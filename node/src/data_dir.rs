//! The data directory holds the node's keys, its store (orders, accounts, printer keys), the
//! audit log and customers' G-code, so it is the owner's alone: created `0700`, files in it
//! `0600`, and tightened at start (with a warning) when an older install or a loose umask left
//! it open to other users of the host.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the data directory and the directories in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files the node writes.
pub const FILE_MODE: u32 = 0o600;
/// How deep below the data directory modes are checked (it is `DIR/farm/jobs/*` at most).
const MAX_DEPTH: usize = 4;

/// Why the data directory could not be made private.
#[derive(Debug, thiserror::Error)]
#[error("making the data directory owner-only at {path}: {source}")]
pub struct DataDirError {
    /// The path at fault.
    pub path: std::path::PathBuf,
    /// Why.
    pub source: io::Error,
}

/// Creates `dir` owner-only, or tightens it and everything in it that other users may read;
/// `warn` logs what was tightened (on start, when it means the install was open).
pub fn secure(dir: &Path, warn: bool) -> Result<(), DataDirError> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataDirError { path, source }
    };
    if !dir.exists() {
        DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir).map_err(fail(dir))?;
    }
    let mut tightened = Vec::new();
    tighten(dir, 0, &mut tightened).map_err(fail(dir))?;
    if warn && !tightened.is_empty() {
        tracing::warn!(
            dir = %dir.display(),
            count = tightened.len(),
            first = %tightened[0],
            "the data directory was readable by other users; made it owner-only"
        );
    }
    Ok(())
}

fn tighten(path: &Path, depth: usize, tightened: &mut Vec<String>) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    // Symlinks are left alone: their target is not ours to change.
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700))?;
        tightened.push(format!("{} was {mode:o}", path.display()));
    }
    if meta.is_dir() && depth < MAX_DEPTH {
        for entry in fs::read_dir(path)? {
            tighten(&entry?.path(), depth + 1, tightened)?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` owner-only, whatever the process umask.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file =
        OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(path)?;
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    file.write_all(bytes)
}

/// [`write_private`] for async callers.
pub async fn write_private_async(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
        .await?;
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE)).await?;
    file.write_all(bytes).await?;
    file.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0)
    }

    #[test]
    fn an_open_directory_is_tightened_and_a_new_one_is_private() -> io::Result<()> {
        let root = tempfile::tempdir()?;
        let open = root.path().join("open");
        fs::create_dir_all(open.join("farm/jobs"))?;
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755))?;
        fs::write(open.join("amsp.redb"), b"x")?;
        fs::set_permissions(open.join("amsp.redb"), fs::Permissions::from_mode(0o644))?;
        fs::write(open.join("farm/jobs/a.gcode"), b"G28")?;
        fs::set_permissions(open.join("farm/jobs/a.gcode"), fs::Permissions::from_mode(0o666))?;
        secure(&open, true).map_err(|e| e.source)?;
        assert_eq!(mode(&open), 0o700);
        assert_eq!(mode(&open.join("amsp.redb")), 0o600);
        assert_eq!(mode(&open.join("farm/jobs/a.gcode")), 0o600);
        assert_eq!(mode(&open.join("farm/jobs")), 0o700);
        let fresh = root.path().join("a/b/fresh");
        secure(&fresh, true).map_err(|e| e.source)?;
        assert_eq!(mode(&fresh), 0o700);
        let f = fresh.join("f");
        fs::write(&f, b"old")?;
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644))?;
        write_private(&f, b"new")?;
        assert_eq!(mode(&f), 0o600);
        Ok(())
    }
}

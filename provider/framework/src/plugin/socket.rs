//! Where Terraform reaches us: a unix socket inside a fresh directory only our user can enter.
//!
//! The 0700 directory is the first fence (other users cannot even connect); mutual TLS is the
//! second (other processes of the same user can connect but cannot complete a handshake).
//! The directory is removed when [`PrivateSocketDir`] is dropped, i.e. on every orderly exit.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

/// Prefix of the directory name, so a stray directory left by a killed plugin is recognisable.
const DIR_PREFIX: &str = "tf-immutable-";

/// File name of the socket inside the directory.
const SOCKET_NAME: &str = "plugin.sock";

/// Random characters in the directory name (62^12 ≈ 3·10^21 names).
const RANDOM_LEN: usize = 12;

/// A private directory holding the plugin socket; removed (with its content) on drop.
#[derive(Debug)]
pub(crate) struct PrivateSocketDir {
    dir: PathBuf,
    socket: PathBuf,
}

impl PrivateSocketDir {
    /// Creates `<base>/tf-immutable-<random>` with mode 0700.
    ///
    /// `create` (not `create_dir_all`) fails if the name exists, so we never adopt a directory
    /// someone else prepared; on a collision we draw another name.
    pub(crate) fn create_in(base: &Path) -> io::Result<Self> {
        let mut attempts = 0;
        loop {
            let name: String = std::iter::repeat_with(fastrand::alphanumeric)
                .take(RANDOM_LEN)
                .collect();
            let dir = base.join(format!("{DIR_PREFIX}{name}"));
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {
                    // The umask can only remove bits, but say exactly what we mean.
                    let guard = Self {
                        socket: dir.join(SOCKET_NAME),
                        dir,
                    };
                    fs::set_permissions(&guard.dir, fs::Permissions::from_mode(0o700))?;
                    return Ok(guard);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 16 => {
                    attempts += 1;
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "cannot create a private directory in {}: {e}",
                            base.display()
                        ),
                    ))
                }
            }
        }
    }

    /// The directory.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The socket path printed in the handshake line.
    pub(crate) fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// Binds the listening socket. Must be called inside a tokio runtime.
    pub(crate) fn bind(&self) -> io::Result<UnixListener> {
        UnixListener::bind(&self.socket).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}", self.socket.display()),
            )
        })
    }
}

impl Drop for PrivateSocketDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::debug!(dir = %self.dir.display(), error = %e, "cannot remove the socket directory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_is_private_unique_and_removed_on_drop() {
        let base = std::env::temp_dir();
        let a = PrivateSocketDir::create_in(&base).unwrap();
        let b = PrivateSocketDir::create_in(&base).unwrap();
        assert_ne!(a.dir(), b.dir());
        let mode = fs::metadata(a.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(a.socket_path().parent(), Some(a.dir()));
        assert!(a
            .dir()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(DIR_PREFIX));

        let dir = a.dir().to_path_buf();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(async { a.bind() }).unwrap();
        assert!(a.socket_path().exists());
        drop(listener);
        drop(a);
        assert!(!dir.exists());
        drop(b);
    }

    #[test]
    fn missing_base_is_an_error_naming_it() {
        let err = PrivateSocketDir::create_in(Path::new("/nonexistent/for/sure")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/for/sure"), "{err}");
    }
}

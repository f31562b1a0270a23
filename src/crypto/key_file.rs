//! The key file: base64 keys one per line, the sealing key first and older keys after it; written
//! private (0600) and replaced atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

const HEADER: &str = "# sonar-slack encryption keys (base64). The first line seals; later lines only open values\n# sealed before a `sonar-slack keys rotate` finished. Back this file up with the database.\n";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read or write the key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the key file {path} does not hold base64 32-byte keys (line {line}); restore the file that sealed this database's secrets"
    )]
    Malformed { path: PathBuf, line: usize },
    #[error(
        "the key file {path} holds no key; restore the file that sealed this database's secrets"
    )]
    Empty { path: PathBuf },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The keys in the file, the sealing key first; `None` when there is no file.
/// Blank lines and lines starting with `#` are skipped; each key is checked to be one.
pub fn read_keys(path: &Path) -> Result<Option<Vec<SecretString>>, KeyFileError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => SecretString::from(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut keys = Vec::new();
    for (n, line) in text.expose_secret().lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = SecretString::from(line.to_owned());
        super::Key::from_base64(&key).map_err(|_| KeyFileError::Malformed {
            path: path.to_owned(),
            line: n + 1,
        })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(KeyFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(Some(keys))
}

/// Writes `keys` (the sealing key first). With `fresh`, fails if the file exists (two first starts
/// cannot both create one); otherwise replaces the file atomically: a crash leaves the old file or
/// the new one, never half of either.
pub fn write_keys(path: &Path, keys: &[SecretString], fresh: bool) -> Result<(), KeyFileError> {
    let mut text = String::from(HEADER);
    for key in keys {
        text.push_str(key.expose_secret());
        text.push('\n');
    }
    let text = SecretString::from(text);
    if fresh {
        return write_private(path, &text, true);
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(".new");
    let temp = PathBuf::from(temp);
    write_private(&temp, &text, false)?;
    fs::rename(&temp, path).map_err(io(path))?;
    // The rename itself is made durable by syncing the directory that holds it.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(path))
}

fn write_private(path: &Path, text: &SecretString, fresh: bool) -> Result<(), KeyFileError> {
    let mut options = fs::OpenOptions::new();
    options.write(true);
    if fresh {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(text.expose_secret().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;

    fn key(byte: u8) -> SecretString {
        SecretString::from(B64.encode([byte; 32]))
    }

    fn texts(keys: &[SecretString]) -> Vec<String> {
        keys.iter().map(|k| k.expose_secret().to_owned()).collect()
    }

    #[test]
    fn keys_round_trip_first_one_first_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        assert!(read_keys(&path).unwrap().is_none());
        write_keys(&path, &[key(1)], true).unwrap();
        assert!(
            write_keys(&path, &[key(2)], true).is_err(),
            "fresh never overwrites"
        );
        write_keys(&path, &[key(2), key(1)], false).unwrap();
        let read = read_keys(&path).unwrap().unwrap();
        assert_eq!(texts(&read), texts(&[key(2), key(1)]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!dir.path().join("k.key.new").exists());
    }

    #[test]
    fn a_bare_key_as_written_before_key_ids_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.key");
        fs::write(&path, key(5).expose_secret()).unwrap();
        assert_eq!(texts(&read_keys(&path).unwrap().unwrap()), texts(&[key(5)]));
    }

    #[test]
    fn bad_files_name_the_line_and_never_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        fs::write(
            &path,
            format!("# note\n{}\nnot-a-key-secret\n", key(1).expose_secret()),
        )
        .unwrap();
        let err = read_keys(&path).unwrap_err().to_string();
        assert!(err.contains("line 3"), "{err}");
        assert!(!err.contains("not-a-key-secret"), "{err}");
        fs::write(&path, "# only a comment\n\n").unwrap();
        assert!(
            read_keys(&path)
                .unwrap_err()
                .to_string()
                .contains("holds no key")
        );
    }
}

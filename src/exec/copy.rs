//! `ecsx cp`: files and folders in and out of a container over the same
//! ECS Exec session as `exec`, with nothing in the image beyond `sh` and
//! `base64` for single files (`tar` for folders, `gzip` and `sha256sum` when
//! there).
//!
//! **Download.** A one-off session runs a script that prints a header line
//! (`ECSXCP1 ok KIND SIZE MODE GZIP SUM` or `ECSXCP1 err CODE`), then the
//! file (or a tar stream of the folder), gzip-compressed when the image has
//! `gzip` and a sample of the data compresses, then a fixed-length footer
//! with the reading side's exit status, the sha256 of the uncompressed bytes
//! (for a file, `sha256sum` reads it beside the sender, from the page cache,
//! so the data takes the same path as `exec -- cat`; for a folder, `tee`
//! feeds the tar stream into `sha256sum`) and any error text. One-off
//! output is byte-exact (see [`crate::exec::wrap`]), so the data needs no
//! encoding: the client holds back the last [`FOOTER_LEN`] bytes and writes
//! the rest, decompressed and hashed, to a temporary file next to the
//! destination, renamed into place only once the footer's sum matches.
//!
//! **Upload.** The source (a file; a folder as a tar stream built here; stdin)
//! is hashed first, then streamed through a pipe-mode session (base64 lines
//! as fast as the window allows): the first line is the expected sha256, the
//! rest the bytes. The remote script writes a temporary name next to the
//! destination, hashes what it wrote, and renames only when the sums match;
//! it answers with one `ECSXUP1` line.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::aws::Aws;
use crate::ecs::Target;
use crate::error::{Error, Result};
use crate::exec::run::{self, BoxFuture, Input, RunOptions, Sink, StdoutPipe};
use crate::exec::session::ExecSession;
use crate::exec::target::Chosen;
use crate::exec::wrap::{self, shell_quote, Mode};

/// `\nECSXEND SSS <sum:64> <err:200>\n`.
pub const FOOTER_LEN: usize = 1 + 7 + 1 + 3 + 1 + 64 + 1 + 200 + 1;
/// Bytes of a compressibility sample.
const SAMPLE: usize = 65536;
/// Longest header line accepted.
const MAX_HEADER: usize = 1024;

fn copy_error(message: impl Into<String>) -> Error {
    Error::Copy(message.into())
}

/// One side of `ecsx cp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A local path.
    Local(PathBuf),
    /// `-`: stdin or stdout.
    Std,
    /// `[TASK]:PATH` in a container.
    Remote {
        /// The task id or prefix before the colon, if any.
        task: Option<String>,
        /// The path in the container.
        path: String,
    },
}

/// Read one side: `-`, `[TASK]:PATH` (no `/` before the first colon), or a
/// local path (write `./a:b` for a local name with a colon).
pub fn parse_endpoint(text: &str) -> Endpoint {
    if text == "-" {
        return Endpoint::Std;
    }
    if let Some((task, path)) = text.split_once(':') {
        if !task.contains('/') && !task.starts_with('.') {
            return Endpoint::Remote {
                task: (!task.is_empty()).then(|| task.to_string()),
                path: path.to_string(),
            };
        }
    }
    Endpoint::Local(PathBuf::from(text))
}

/// What a copy moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// A folder (tar stream) rather than a file.
    pub folder: bool,
    /// Bytes of the file or tar stream.
    pub bytes: u64,
    /// Whether the bytes were checked with sha256 on both sides.
    pub verified: bool,
    /// Whether the wire carried gzip.
    pub compressed: bool,
    /// Where the copy landed (a local path, `-`, or the remote path).
    pub destination: String,
}

/// How to copy.
pub struct Options {
    /// Compress downloads when the image has gzip and the data compresses.
    pub compress: bool,
    /// Progress (bytes), when shown.
    pub progress: Option<indicatif::ProgressBar>,
    /// `--timeout`.
    pub deadline: Option<(tokio::time::Instant, String)>,
}

/// The last path component of a remote path (`/var/log/` → `log`).
fn remote_base_name(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit('/').next() {
        Some(name) if !name.is_empty() && name != "." && name != ".." => name.to_string(),
        _ => "ecsx-copy".to_string(),
    }
}

fn where_(chosen: &Chosen) -> String {
    format!("task {} container {}", chosen.task_id, chosen.container)
}

// ---------------------------------------------------------------------------
// Download

/// The download script: header, data, footer (see the module docs).
fn download_script(path: &str, compress: bool) -> String {
    let p = shell_quote(path);
    let zok = if compress { 1 } else { 0 };
    format!(
        r#"set -f; p={p}; zok={zok}
fail() {{ printf 'ECSXCP1 err %s\n' "$1"; exit 0; }}
if [ -d "$p" ]; then
  command -v tar >/dev/null 2>&1 || fail notar
  {{ [ -r "$p" ] && [ -x "$p" ]; }} || fail denied
  k=d; n=-
elif [ -e "$p" ]; then
  [ -f "$p" ] || fail notfile
  [ -r "$p" ] || fail denied
  k=f; n=$(stat -c %s "$p" 2>/dev/null || wc -c < "$p"); n=$((n+0))
else
  fail missing
fi
md=$(stat -c %a "$p" 2>/dev/null) || md=-
[ -n "$md" ] || md=-
z=0
if [ "$zok" = 1 ] && command -v gzip >/dev/null 2>&1; then
  if [ $k = d ]; then z=1; else
    a=$(head -c {SAMPLE} "$p" | wc -c); b=$(head -c {SAMPLE} "$p" | gzip -1 -c | wc -c)
    [ $((b * 10)) -lt $((a * 9)) ] && z=1
  fi
fi
s=0; command -v sha256sum >/dev/null 2>&1 && [ -e /dev/fd/1 ] && s=1
printf 'ECSXCP1 ok %s %s %s %s %s\n' $k $n $md $z $s
src() {{ if [ $k = f ]; then cat "$p"; else tar -C "$p" -cf - .; fi; }}
exec 3>&1
if [ $k = f ]; then
  if [ $z = 1 ]; then snd() {{ gzip -1 -c -f < "$p"; }}; else snd() {{ cat "$p"; }}; fi
  if [ $s = 1 ]; then
    r=$( {{ snd 2>&1 >&3; echo "st=$?"; }} & sha256sum < "$p" 2>/dev/null; wait )
  else
    r=$( snd 2>&1 >&3; echo "st=$?" )
  fi
elif [ $s = 1 ] && [ $z = 1 ]; then
  r=$( {{ {{ {{ src 2>&6; echo "st=$?" >&5; }} | tee /dev/fd/4 | gzip -1 -c -f >&3; }} 4>&1 | sha256sum; }} 5>&1 6>&1 )
elif [ $s = 1 ]; then
  r=$( {{ {{ {{ src 2>&6; echo "st=$?" >&5; }} | tee /dev/fd/4 >&3; }} 4>&1 | sha256sum; }} 5>&1 6>&1 )
elif [ $z = 1 ]; then
  r=$( {{ {{ src 2>&6; echo "st=$?" >&5; }} | gzip -1 -c -f >&3; }} 5>&1 6>&1 )
else
  r=$( {{ src 2>&6 >&3; echo "st=$?"; }} 6>&1 )
fi
st=1; sum=-; err=
nl='
'
IFS=$nl
for line in $r; do
  case $line in
    st=*) st=${{line#st=}} ;;
    *'  -') sum=${{line%% *}} ;;
    *) err="$err$line " ;;
  esac
done
e=$(printf %s "$err" | head -c 150 | base64 | tr -d "$nl")
printf '\nECSXEND %3s %-64.64s %-200.200s\n' "$st" "$sum" "$e""#
    )
}

/// Where a download writes.
pub enum LocalDest {
    /// A path: a file, a folder to copy into, or a new name.
    Path(PathBuf),
    /// Standard output.
    Stdout,
}

/// Removes a temporary file or folder unless kept.
struct TempPath {
    path: Option<PathBuf>,
}

impl TempPath {
    fn new(path: PathBuf) -> TempPath {
        TempPath { path: Some(path) }
    }
    fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }
    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            if path.is_dir() {
                let _ = std::fs::remove_dir_all(&path);
            } else {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// The header's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    folder: bool,
    size: Option<u64>,
    mode: Option<u32>,
    gzip: bool,
    sum: bool,
}

fn parse_header(line: &str) -> std::result::Result<Header, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        ["ECSXCP1", "err", code, ..] => Err(code.to_string()),
        ["ECSXCP1", "ok", kind, size, mode, z, s] => Ok(Header {
            folder: *kind == "d",
            size: size.parse().ok(),
            mode: u32::from_str_radix(mode, 8).ok(),
            gzip: *z == "1",
            sum: *s == "1",
        }),
        _ => Err(format!(
            "unexpected:{}",
            line.chars().take(80).collect::<String>()
        )),
    }
}

/// The footer's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Footer {
    status: i32,
    sum: Option<String>,
    error: String,
}

fn parse_footer(tail: &[u8]) -> Option<Footer> {
    if tail.len() != FOOTER_LEN || !tail.starts_with(b"\nECSXEND ") || tail.last() != Some(&b'\n') {
        return None;
    }
    let text = std::str::from_utf8(&tail[9..FOOTER_LEN - 1]).ok()?;
    let status = text.get(0..3)?.trim().parse().ok()?;
    let sum = text.get(4..68)?.trim();
    let err = text.get(69..)?.trim();
    let error = base64::engine::general_purpose::STANDARD
        .decode(err)
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    Some(Footer {
        status,
        sum: (sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| sum.to_ascii_lowercase()),
        error,
    })
}

/// Where decoded bytes go.
enum Out {
    File(std::fs::File),
    Stdout(StdoutPipe),
}

/// Opens the output once the header says what comes.
type Opener = Box<dyn FnMut(&Header) -> Result<Out> + Send>;

/// The receiving side of a download: header, body (decompressed, hashed,
/// written), footer held back.
struct DownloadSink {
    header_buf: Vec<u8>,
    header: Option<std::result::Result<Header, String>>,
    tail: Vec<u8>,
    gz: Option<flate2::write::GzDecoder<Vec<u8>>>,
    hasher: Sha256,
    bytes: u64,
    out: Option<Out>,
    open: Opener,
    progress: Option<indicatif::ProgressBar>,
    /// The first local failure; the session is then only drained.
    failed: Option<Error>,
}

impl DownloadSink {
    fn new(open: Opener, progress: Option<indicatif::ProgressBar>) -> DownloadSink {
        DownloadSink {
            header_buf: Vec::new(),
            header: None,
            tail: Vec::new(),
            gz: None,
            hasher: Sha256::new(),
            bytes: 0,
            out: None,
            open,
            progress,
            failed: None,
        }
    }

    /// Take output; returns decoded bytes bound for stdout, if that is
    /// where they go.
    fn take(&mut self, mut bytes: &[u8]) -> Result<Vec<u8>> {
        if self.header.is_none() {
            match memchr::memchr(b'\n', bytes) {
                Some(nl) => {
                    self.header_buf.extend_from_slice(&bytes[..nl]);
                    bytes = &bytes[nl + 1..];
                    let line = String::from_utf8_lossy(&self.header_buf).trim().to_string();
                    let header = parse_header(&line);
                    if let Ok(h) = &header {
                        if h.gzip {
                            self.gz = Some(flate2::write::GzDecoder::new(Vec::new()));
                        }
                        if let (Some(p), Some(size)) = (&self.progress, h.size) {
                            p.set_length(size);
                        }
                        self.out = Some((self.open)(h)?);
                    }
                    self.header = Some(header);
                }
                None => {
                    self.header_buf.extend_from_slice(bytes);
                    if self.header_buf.len() > MAX_HEADER {
                        return Err(copy_error(format!(
                            "unexpected output from the container instead of ecsx's copy header: {:?}",
                            String::from_utf8_lossy(&self.header_buf[..80])
                        )));
                    }
                    return Ok(Vec::new());
                }
            }
        }
        if !matches!(self.header, Some(Ok(_))) {
            // An error header: whatever follows is not data.
            return Ok(Vec::new());
        }
        // Hold back what may be the footer.
        self.tail.extend_from_slice(bytes);
        if self.tail.len() <= FOOTER_LEN {
            return Ok(Vec::new());
        }
        let body: Vec<u8> = self.tail.drain(..self.tail.len() - FOOTER_LEN).collect();
        let decoded = match self.gz.as_mut() {
            Some(gz) => {
                gz.write_all(&body).map_err(|e| {
                    copy_error(format!(
                        "the compressed stream is damaged ({e}); try again with --no-compress"
                    ))
                })?;
                std::mem::take(gz.get_mut())
            }
            None => body,
        };
        self.deliver(decoded)
    }

    fn deliver(&mut self, decoded: Vec<u8>) -> Result<Vec<u8>> {
        if decoded.is_empty() {
            return Ok(decoded);
        }
        self.hasher.update(&decoded);
        self.bytes += decoded.len() as u64;
        if let Some(p) = &self.progress {
            p.set_position(self.bytes);
        }
        match self.out.as_mut() {
            Some(Out::File(f)) => {
                f.write_all(&decoded)
                    .map_err(|e| copy_error(format!("writing the local copy failed: {e}")))?;
                Ok(Vec::new())
            }
            Some(Out::Stdout(_)) => Ok(decoded),
            None => Ok(Vec::new()),
        }
    }

    /// The end of the stream: flush the decoder.
    fn finish_body(&mut self) -> Result<Vec<u8>> {
        match self.gz.take() {
            Some(mut gz) => {
                gz.try_finish().map_err(|e| {
                    copy_error(format!(
                        "the compressed stream ended early ({e}); try again with --no-compress"
                    ))
                })?;
                let rest = gz.finish().unwrap_or_default();
                self.deliver(rest)
            }
            None => Ok(Vec::new()),
        }
    }
}

impl Sink for DownloadSink {
    fn write(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, std::io::Result<()>> {
        Box::pin(async move {
            if self.failed.is_some() {
                return Ok(());
            }
            match self.take(&bytes) {
                Ok(to_stdout) if !to_stdout.is_empty() => {
                    if let Some(Out::Stdout(pipe)) = &self.out {
                        pipe.send(to_stdout).await?;
                    }
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(e) => {
                    self.failed = Some(e);
                    Ok(())
                }
            }
        })
    }
}

/// What the script said went wrong, as one line for the user.
fn download_failure(code: &str, path: &str, chosen: &Chosen) -> Error {
    let at = where_(chosen);
    match code {
        "missing" => copy_error(format!(
            "{path} does not exist in {at}; check the path (`ecsx exec --task-id {} -- ls -la DIR`)",
            chosen.task_id
        )),
        "denied" => copy_error(format!(
            "permission denied reading {path} in {at}; copy a file the container's user can read"
        )),
        "notar" => copy_error(format!(
            "{path} in {at} is a folder and the image has no `tar`; install tar in the image, or copy its files one by one"
        )),
        "notfile" => copy_error(format!(
            "{path} in {at} is not a regular file or folder (a device, socket or pipe); name a file"
        )),
        other => match other.strip_prefix("unexpected:") {
            Some(text) => copy_error(format!(
                "the container did not answer as ecsx's copy script does ({text:?}); the image needs `sh` (POSIX) and `base64`"
            )),
            None => copy_error(format!("copying {path} from {at} failed: {other}")),
        },
    }
}

/// The local file a download of a file writes to.
fn local_file_target(dest: &Path, remote: &str) -> Result<PathBuf> {
    let target = if dest.is_dir() {
        dest.join(remote_base_name(remote))
    } else {
        dest.to_path_buf()
    };
    if target.is_dir() {
        return Err(copy_error(format!(
            "local path {} exists and is a folder; name a file, or another folder to copy into",
            target.display()
        )));
    }
    let parent = parent_of(&target);
    if !parent.is_dir() {
        return Err(copy_error(format!(
            "local folder {} does not exist; create it first (mkdir -p {})",
            parent.display(),
            parent.display()
        )));
    }
    Ok(target)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_name_beside(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ecsx-copy".into());
    parent_of(target).join(format!(".{name}.ecsx-{}.part", wrap::new_nonce()))
}

fn create_temp(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            copy_error(format!(
                "cannot write in {}: {e}; pick a writable local folder",
                parent_of(path).display()
            ))
        })
}

/// Copy `remote` (a file or a folder) out of the chosen container.
pub async fn download(
    aws: &Aws,
    target: &Target,
    chosen: &Chosen,
    remote: &str,
    dest: LocalDest,
    options: Options,
) -> Result<Report> {
    if remote.is_empty() {
        return Err(Error::Usage(
            "the remote path is empty; write it as TASK:/path or :/path".into(),
        ));
    }
    // Decide the local names before anything runs.
    let file_target = match &dest {
        LocalDest::Path(p) => Some(p.clone()),
        LocalDest::Stdout => None,
    };
    let temp_holder: std::sync::Arc<std::sync::Mutex<Option<(TempPath, PathBuf)>>> =
        Default::default();
    let holder = std::sync::Arc::clone(&temp_holder);
    let remote_name = remote.to_string();
    let open: Opener = Box::new(move |h: &Header| -> Result<Out> {
        let Some(dest) = &file_target else {
            return Ok(Out::Stdout(StdoutPipe::spawn()));
        };
        // A folder arrives as a tar stream, kept beside the destination
        // until it is verified and unpacked.
        let final_path = if h.folder {
            let target = if dest.is_dir() {
                dest.join(remote_base_name(&remote_name))
            } else {
                dest.clone()
            };
            if target.exists() {
                return Err(copy_error(format!(
                    "local path {} already exists; remove it or name a new folder",
                    target.display()
                )));
            }
            let parent = parent_of(&target);
            if !parent.is_dir() {
                return Err(copy_error(format!(
                    "local folder {} does not exist; create it first (mkdir -p {})",
                    parent.display(),
                    parent.display()
                )));
            }
            target
        } else {
            local_file_target(dest, &remote_name)?
        };
        let temp = temp_name_beside(&final_path);
        let file = create_temp(&temp)?;
        *holder.lock().unwrap_or_else(|p| p.into_inner()) = Some((TempPath::new(temp), final_path));
        Ok(Out::File(file))
    });
    // An early check, so that an obvious mistake costs no session.
    if let LocalDest::Path(p) = &dest {
        let parent = if p.is_dir() { p.clone() } else { parent_of(p) };
        if !parent.is_dir() {
            return Err(copy_error(format!(
                "local folder {} does not exist; create it first (mkdir -p {})",
                parent.display(),
                parent.display()
            )));
        }
    }

    let script = download_script(remote, options.compress);
    let session = ExecSession::start(aws, target, chosen, &script, Mode::OneOff).await?;
    let mut sink = DownloadSink::new(open, options.progress.clone());
    let run_options = RunOptions {
        deadline: options.deadline.clone(),
        watch: Some((aws.clone(), target.clone())),
        signals: true,
        input: Input::None,
        on_input: None,
    };
    let status = run::run(session, run_options, &mut sink, &mut run::write_stderr).await?;
    if let Some(e) = sink.failed.take() {
        return Err(e);
    }
    let header = match sink.header.take() {
        Some(Ok(h)) => h,
        Some(Err(code)) => return Err(download_failure(&code, remote, chosen)),
        None => {
            return Err(copy_error(format!(
                "the copy script in {} ended (status {status}) before it said anything; the image needs `sh` and `base64`",
                where_(chosen)
            )))
        }
    };
    let footer = parse_footer(&sink.tail).ok_or_else(|| {
        copy_error(format!(
            "the copy of {remote} from {} ended early (the session or the connection was cut); nothing was written, try again",
            where_(chosen)
        ))
    })?;
    let to_stdout = sink.finish_body()?;
    if let Some(Out::Stdout(pipe)) = &sink.out {
        if !to_stdout.is_empty() {
            pipe.send(to_stdout).await?;
        }
    }
    if footer.status != 0 {
        let detail = if footer.error.is_empty() {
            format!("status {}", footer.status)
        } else {
            footer.error.clone()
        };
        return Err(copy_error(format!(
            "reading {remote} in {} failed: {detail}; nothing was written",
            where_(chosen)
        )));
    }
    let local_sum = hex(&sink.hasher.clone().finalize());
    let verified = header.sum && footer.sum.is_some();
    if let Some(remote_sum) = &footer.sum {
        if header.sum && *remote_sum != local_sum {
            return Err(copy_error(format!(
                "the copy of {remote} does not match the container's file (sha256 {local_sum} here, {remote_sum} there); nothing was written, try again"
            )));
        }
    }
    if !header.folder {
        if let Some(size) = header.size {
            if size != sink.bytes && header.sum {
                return Err(copy_error(format!(
                    "the copy of {remote} has {} bytes but the file has {size} (it changed while being copied?); nothing was written, try again",
                    sink.bytes
                )));
            }
        }
    }
    let out = sink.out.take();
    let bytes = sink.bytes;
    let destination = match out {
        Some(Out::Stdout(pipe)) => {
            pipe.flush().await?;
            "-".to_string()
        }
        Some(Out::File(file)) => {
            file.sync_all()
                .map_err(|e| copy_error(format!("writing the local copy failed: {e}")))?;
            drop(file);
            let (temp, final_path) = temp_holder
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .ok_or_else(|| copy_error("internal: the local copy has no name"))?;
            if header.folder {
                unpack_folder(&temp, &final_path, header.mode)?;
            } else {
                let mode = header.mode.unwrap_or(0o644) & 0o7777;
                let _ =
                    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(mode));
                std::fs::rename(temp.path(), &final_path).map_err(|e| {
                    copy_error(format!(
                        "cannot put the copy in place at {}: {e}",
                        final_path.display()
                    ))
                })?;
                temp.keep();
            }
            final_path.display().to_string()
        }
        None => "-".to_string(),
    };
    Ok(Report {
        folder: header.folder,
        bytes,
        verified,
        compressed: header.gzip,
        destination,
    })
}

/// Unpack a verified tar stream into a temporary folder beside the
/// destination, then rename it into place.
fn unpack_folder(tar_file: &TempPath, final_path: &Path, mode: Option<u32>) -> Result<()> {
    let staging = TempPath::new(temp_name_beside(final_path));
    std::fs::create_dir(staging.path()).map_err(|e| {
        copy_error(format!(
            "cannot create a folder in {}: {e}",
            parent_of(final_path).display()
        ))
    })?;
    let file = std::fs::File::open(tar_file.path())
        .map_err(|e| copy_error(format!("reading the received folder failed: {e}")))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    archive.set_preserve_permissions(true);
    archive.set_overwrite(false);
    archive.unpack(staging.path()).map_err(|e| {
        copy_error(format!(
            "unpacking the folder into {} failed: {e}",
            parent_of(final_path).display()
        ))
    })?;
    if let Some(mode) = mode {
        let _ = std::fs::set_permissions(
            staging.path(),
            std::fs::Permissions::from_mode(mode & 0o7777),
        );
    }
    std::fs::rename(staging.path(), final_path).map_err(|e| {
        copy_error(format!(
            "cannot put the folder in place at {}: {e}",
            final_path.display()
        ))
    })?;
    staging.keep();
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------
// Upload

/// Where an upload reads.
pub enum LocalSource {
    /// A file or a folder.
    Path(PathBuf),
    /// Standard input.
    Stdin,
}

/// A source ready to send: a file on disk with its sum.
struct Prepared {
    file: PathBuf,
    _spool: Option<TempPath>,
    sum: String,
    size: u64,
    folder: bool,
    mode: Option<u32>,
    name: String,
}

fn prepare(source: &LocalSource, remote: &str) -> Result<Prepared> {
    let hash_file = |path: &Path| -> Result<(String, u64)> {
        let mut file = std::fs::File::open(path)
            .map_err(|e| copy_error(format!("cannot read {}: {e}", path.display())))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = std::io::Read::read(&mut file, &mut buf)
                .map_err(|e| copy_error(format!("cannot read {}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok((hex(&hasher.finalize()), size))
    };
    match source {
        LocalSource::Stdin => {
            let spool = TempPath::new(
                std::env::temp_dir().join(format!("ecsx-stdin-{}", wrap::new_nonce())),
            );
            let mut file = create_temp(spool.path())?;
            let mut hasher = Sha256::new();
            let mut stdin = std::io::stdin().lock();
            let mut buf = vec![0u8; 1 << 16];
            let mut size = 0u64;
            loop {
                let n = std::io::Read::read(&mut stdin, &mut buf)
                    .map_err(|e| copy_error(format!("reading stdin failed: {e}")))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n]).map_err(|e| {
                    copy_error(format!(
                        "spooling stdin to {} failed: {e}",
                        spool.path().display()
                    ))
                })?;
                size += n as u64;
            }
            Ok(Prepared {
                file: spool.path().to_path_buf(),
                _spool: Some(spool),
                sum: hex(&hasher.finalize()),
                size,
                folder: false,
                mode: None,
                name: remote_base_name(remote),
            })
        }
        LocalSource::Path(path) => {
            let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => copy_error(format!(
                    "local path {} does not exist; check the path",
                    path.display()
                )),
                _ => copy_error(format!("cannot read {}: {e}", path.display())),
            })?;
            let name = path
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "ecsx-copy".into());
            let mode = Some(meta.permissions().mode() & 0o7777);
            if meta.is_dir() {
                let spool = TempPath::new(
                    std::env::temp_dir().join(format!("ecsx-tar-{}", wrap::new_nonce())),
                );
                let file = create_temp(spool.path())?;
                let mut builder = tar::Builder::new(std::io::BufWriter::new(file));
                builder.follow_symlinks(false);
                builder.append_dir_all(".", path).map_err(|e| {
                    copy_error(format!("cannot read the folder {}: {e}", path.display()))
                })?;
                builder
                    .into_inner()
                    .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
                    .map_err(|e| copy_error(format!("packing {} failed: {e}", path.display())))?;
                let (sum, size) = hash_file(spool.path())?;
                Ok(Prepared {
                    file: spool.path().to_path_buf(),
                    _spool: Some(spool),
                    sum,
                    size,
                    folder: true,
                    mode,
                    name,
                })
            } else if meta.is_file() {
                let (sum, size) = hash_file(path)?;
                Ok(Prepared {
                    file: path.clone(),
                    _spool: None,
                    sum,
                    size,
                    folder: false,
                    mode,
                    name,
                })
            } else {
                Err(copy_error(format!(
                    "local path {} is not a file or a folder",
                    path.display()
                )))
            }
        }
    }
}

/// The upload script (see the module docs).
fn upload_script(dest: &str, name: &str, folder: bool, mode: Option<u32>, nonce: &str) -> String {
    let d = shell_quote(dest);
    let n = shell_quote(name);
    let k = if folder { "d" } else { "f" };
    let md = mode.map(|m| format!("{m:o}")).unwrap_or_else(|| "-".into());
    format!(
        r#"set -f; d={d}; n={n}; k={k}; md={md}
fail() {{ printf 'ECSXUP1 err %s %s\n' "$1" "$2"; exit 0; }}
case $d in */) [ -d "$d" ] || fail nodir "$d";; esac
if [ -d "$d" ]; then t="${{d%/}}/$n"; else t=$d; fi
[ $k = f ] && [ -d "$t" ] && fail isdir "$t"
[ $k = d ] && [ -e "$t" ] && fail exists "$t"
case $t in */*) dir=${{t%/*}}; [ -n "$dir" ] || dir=/;; *) dir=.;; esac
[ -d "$dir" ] || fail nodir "$dir"
[ -w "$dir" ] || fail denied "$dir"
if [ $k = d ]; then command -v tar >/dev/null 2>&1 || fail notar -; fi
s=0; command -v sha256sum >/dev/null 2>&1 && [ -e /dev/fd/1 ] && s=1
tmp="$dir/.${{t##*/}}.ecsx-{nonce}"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP
IFS= read -r want
if [ $k = f ]; then sink() {{ cat > "$tmp"; }}; else sink() {{ mkdir "$tmp" && tar -xf - -C "$tmp"; }}; fi
if [ $s = 1 ]; then
  r=$( {{ {{ tee /dev/fd/4 | {{ sink 2>&6; echo "st=$?" >&5; }}; }} 4>&1 | sha256sum; }} 5>&1 6>&1 )
else
  r=$( {{ sink 2>&6; echo "st=$?"; }} 6>&1 )
fi
st=1; sum=-; err=
nl='
'
IFS=$nl
for line in $r; do
  case $line in
    st=*) st=${{line#st=}} ;;
    *'  -') sum=${{line%% *}} ;;
    *) err="$err$line " ;;
  esac
done
IFS=' '
[ "$st" = 0 ] || fail write "$(printf %s "$err" | head -c 200 | base64 | tr -d "$nl")"
[ $s = 0 ] || [ "$sum" = "$want" ] || fail checksum "$sum"
[ "$md" = - ] || chmod "$md" "$tmp" 2>/dev/null
mv -f "$tmp" "$t" || fail move "$t"
trap - EXIT
printf 'ECSXUP1 ok %s %s\n' $s "$t""#
    )
}

/// Collects the upload script's answer line; ignores everything else (the
/// terminal's echo of the input, when the image has no `stty`).
#[derive(Default)]
struct AnswerSink {
    line: Vec<u8>,
    answer: Option<String>,
}

impl Sink for AnswerSink {
    fn write(&mut self, bytes: Vec<u8>) -> BoxFuture<'_, std::io::Result<()>> {
        for &b in &bytes {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&self.line).trim().to_string();
                if line.starts_with("ECSXUP1 ") {
                    self.answer = Some(line);
                }
                self.line.clear();
            } else if self.line.len() < 4096 {
                self.line.push(b);
            }
        }
        Box::pin(async { Ok(()) })
    }
}

fn upload_failure(code: &str, detail: &str, chosen: &Chosen) -> Error {
    let at = where_(chosen);
    match code {
        "nodir" => copy_error(format!(
            "remote folder {detail} does not exist in {at}; create it first (`ecsx exec --task-id {} -- mkdir -p {detail}`)",
            chosen.task_id
        )),
        "denied" => copy_error(format!(
            "permission denied writing in {detail} in {at}; pick a folder the container's user can write, such as /tmp"
        )),
        "isdir" => copy_error(format!(
            "remote path {detail} in {at} is a folder; name a file path, or copy into the folder that holds it"
        )),
        "exists" => copy_error(format!(
            "remote path {detail} in {at} already exists; remove it or name a new folder"
        )),
        "notar" => copy_error(format!(
            "the image in {at} has no `tar`, which copying a folder needs; copy files one by one or add tar to the image"
        )),
        "checksum" => copy_error(format!(
            "the upload arrived damaged in {at} (sha256 there {detail}); nothing was written, try again"
        )),
        "move" => copy_error(format!(
            "could not put the upload in place at {detail} in {at}; nothing was written"
        )),
        "write" => {
            let text = base64::engine::general_purpose::STANDARD
                .decode(detail)
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .unwrap_or_default();
            if text.contains("No space left") {
                copy_error(format!(
                    "no space left on the device in {at}; free some space or copy elsewhere (nothing was written)"
                ))
            } else if text.contains("Read-only file system") {
                copy_error(format!(
                    "the destination in {at} is on a read-only file system (readonlyRootFilesystem?); copy to a writable volume such as /tmp"
                ))
            } else if text.contains("Permission denied") {
                copy_error(format!(
                    "permission denied writing in {at}: {text}; pick a folder the container's user can write"
                ))
            } else {
                copy_error(format!("writing in {at} failed: {text}; nothing was written"))
            }
        }
        other => copy_error(format!("the upload to {at} failed: {other} {detail}")),
    }
}

/// Copy a local file, folder or stdin into the chosen container at `remote`.
pub async fn upload(
    aws: &Aws,
    target: &Target,
    chosen: &Chosen,
    source: LocalSource,
    remote: &str,
    options: Options,
) -> Result<Report> {
    if remote.is_empty() {
        return Err(Error::Usage(
            "the remote path is empty; write it as TASK:/path or :/path".into(),
        ));
    }
    if matches!(source, LocalSource::Stdin) && remote.ends_with('/') {
        return Err(Error::Usage(
            "copying stdin needs a remote file name, not a folder; write it as :/path/name".into(),
        ));
    }
    let prepared = prepare(&source, remote)?;
    if let Some(p) = &options.progress {
        p.set_length(prepared.size);
    }
    let nonce = wrap::new_nonce();
    let script = upload_script(
        remote,
        &prepared.name,
        prepared.folder,
        prepared.mode,
        &nonce,
    );
    let session = ExecSession::start(aws, target, chosen, &script, Mode::Upload).await?;
    let file = tokio::fs::File::open(&prepared.file)
        .await
        .map_err(|e| copy_error(format!("cannot read {}: {e}", prepared.file.display())))?;
    let first_line = format!("{}\n", prepared.sum).into_bytes();
    let skip = first_line.len() as u64;
    let reader = tokio::io::AsyncReadExt::chain(std::io::Cursor::new(first_line), file);
    let progress = options.progress.clone();
    let mut sent = 0u64;
    let on_input: Box<dyn FnMut(u64) + Send> = Box::new(move |n| {
        sent += n;
        if let Some(p) = &progress {
            p.set_position(sent.saturating_sub(skip));
        }
    });
    let run_options = RunOptions {
        deadline: options.deadline.clone(),
        watch: Some((aws.clone(), target.clone())),
        signals: true,
        input: Input::Reader(Box::new(reader)),
        on_input: Some(on_input),
    };
    let mut sink = AnswerSink::default();
    let status = run::run(session, run_options, &mut sink, &mut |_| {}).await?;
    let answer = sink.answer.ok_or_else(|| {
        copy_error(format!(
            "the upload to {} ended (status {status}) without an answer; the image needs `sh` and `base64`, or the session was cut (nothing was written)",
            where_(chosen)
        ))
    })?;
    let fields: Vec<&str> = answer.split(' ').collect();
    match fields.as_slice() {
        ["ECSXUP1", "ok", s, rest @ ..] => Ok(Report {
            folder: prepared.folder,
            bytes: prepared.size,
            verified: *s == "1",
            compressed: false,
            destination: rest.join(" "),
        }),
        ["ECSXUP1", "err", code, rest @ ..] => Err(upload_failure(code, &rest.join(" "), chosen)),
        _ => Err(copy_error(format!("the upload answered {answer:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_told_apart() {
        assert_eq!(parse_endpoint("-"), Endpoint::Std);
        assert_eq!(
            parse_endpoint(":/var/log/app.log"),
            Endpoint::Remote {
                task: None,
                path: "/var/log/app.log".into()
            }
        );
        assert_eq!(
            parse_endpoint("3f2a:/tmp/x"),
            Endpoint::Remote {
                task: Some("3f2a".into()),
                path: "/tmp/x".into()
            }
        );
        assert_eq!(
            parse_endpoint("./a:b"),
            Endpoint::Local(PathBuf::from("./a:b"))
        );
        assert_eq!(
            parse_endpoint("dir/a:b"),
            Endpoint::Local(PathBuf::from("dir/a:b"))
        );
        assert_eq!(
            parse_endpoint("file.txt"),
            Endpoint::Local(PathBuf::from("file.txt"))
        );
    }

    #[test]
    fn base_names_of_remote_paths() {
        assert_eq!(remote_base_name("/var/log/app.log"), "app.log");
        assert_eq!(remote_base_name("/var/log/"), "log");
        assert_eq!(remote_base_name("/"), "ecsx-copy");
        assert_eq!(remote_base_name("rel"), "rel");
    }

    #[test]
    fn headers_and_footers_parse() {
        assert_eq!(
            parse_header("ECSXCP1 ok f 12 644 1 1"),
            Ok(Header {
                folder: false,
                size: Some(12),
                mode: Some(0o644),
                gzip: true,
                sum: true
            })
        );
        assert_eq!(parse_header("ECSXCP1 err missing"), Err("missing".into()));
        let sum = "a".repeat(64);
        let err = base64::engine::general_purpose::STANDARD.encode("tar: x: Permission denied");
        let footer = format!("\nECSXEND {:>3} {:<64} {:<200}\n", 2, sum, err);
        assert_eq!(footer.len(), FOOTER_LEN);
        let f = parse_footer(footer.as_bytes()).unwrap();
        assert_eq!(f.status, 2);
        assert_eq!(f.sum.as_deref(), Some(sum.as_str()));
        assert_eq!(f.error, "tar: x: Permission denied");
        let none = format!("\nECSXEND {:>3} {:<64} {:<200}\n", 0, "-", "");
        assert_eq!(parse_footer(none.as_bytes()).unwrap().sum, None);
        assert!(parse_footer(b"short").is_none());
    }

    #[test]
    fn scripts_quote_every_path() {
        let s = download_script("/tmp/it's here", true);
        assert!(s.contains(r#"p='/tmp/it'\''s here'"#), "{s}");
        let s = upload_script("/tmp/a b/", "x'y", false, Some(0o640), "n0");
        assert!(s.contains("d='/tmp/a b/'"), "{s}");
        assert!(s.contains(r#"n='x'\''y'"#), "{s}");
        assert!(s.contains("md=640"), "{s}");
    }

    /// Feed a download stream to the sink in pieces of every size.
    #[test]
    fn a_download_stream_survives_any_cut() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let sum = hex(&Sha256::digest(&data));
        let mut stream = b"ECSXCP1 ok f 5000 600 0 1\n".to_vec();
        stream.extend_from_slice(&data);
        stream
            .extend_from_slice(format!("\nECSXEND {:>3} {:<64} {:<200}\n", 0, sum, "").as_bytes());
        for cut in [1usize, 2, 7, 100, 279, 280, 4096, 100_000] {
            let mut sink = DownloadSink::new(
                Box::new(|_h: &Header| Ok(Out::File(tempfile::tempfile().unwrap()))),
                None,
            );
            for piece in stream.chunks(cut) {
                sink.take(piece).unwrap();
            }
            assert_eq!(sink.bytes, 5000, "cut {cut}");
            assert_eq!(hex(&sink.hasher.clone().finalize()), sum, "cut {cut}");
            assert_eq!(
                parse_footer(&sink.tail).unwrap().sum.as_deref(),
                Some(sum.as_str())
            );
        }
    }
}

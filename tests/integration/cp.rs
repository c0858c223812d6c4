//! `ecsx cp` end to end: files, folders and `-` both ways through the
//! sandbox's data channel, and each error a user can cause.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

fn app() -> PathBuf {
    testdata("app/ecspresso.yml")
}

/// A sandbox with one task whose container runs with `exec_path` as PATH
/// (None: the system's) and a task folder under `dir/root`.
fn sandbox(dir: &Path, exec_path: Option<&Path>) -> Sandbox {
    let root = dir.join("root");
    // The task's working folder, made here so tests can put files in first.
    std::fs::create_dir_all(root.join("000000000000000000000000000c0c01")).unwrap();
    let mut world = format!(
        "task_count: 0\nexec:\n  root: {}\ntasks:\n  - id: 000000000000000000000000000c0c01\n    service: web\n",
        root.display()
    );
    if let Some(path) = exec_path {
        world.push_str(&format!(
            "    containers:\n      - name: app\n        exec_path: {}\n",
            path.display()
        ));
    }
    Sandbox::with_world_text(&app(), dir, &world)
}

fn cp(sb: &Sandbox) -> Command {
    let mut cmd = sb.ecsx(&app());
    cmd.args(["cp", "--quiet"]);
    cmd
}

/// The container's view of a path (its working folder is root/<task id>).
fn remote(dir: &Path, rel: &str) -> PathBuf {
    dir.join("root/000000000000000000000000000c0c01").join(rel)
}

fn scrambled(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

fn remote_dir(dir: &Path) -> String {
    remote(dir, "").display().to_string()
}

#[test]
fn a_file_goes_up_and_comes_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(dir.path(), None);
    let data = scrambled(3_000_000, 1);
    let local = dir.path().join("up.bin");
    std::fs::write(&local, &data).unwrap();
    let there = format!(":{}/up.bin", remote_dir(dir.path()));
    let out = run(cp(&sb).arg(&local).arg(&there));
    assert_code(&out, 0);
    assert_eq!(std::fs::read(remote(dir.path(), "up.bin")).unwrap(), data);
    let back = dir.path().join("back.bin");
    let out = run(cp(&sb).arg(&there).arg(&back));
    assert_code(&out, 0);
    assert_eq!(std::fs::read(&back).unwrap(), data);
    // No temporary names left on either side.
    for folder in [dir.path().to_path_buf(), remote(dir.path(), "")] {
        for entry in std::fs::read_dir(folder).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".ecsx-"), "left behind: {name}");
        }
    }
}

#[test]
fn text_comes_down_compressed_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(dir.path(), None);
    let text: String = (0..100_000)
        .map(|i| format!("line {i} of the log\n"))
        .collect();
    std::fs::write(remote(dir.path(), "app.log"), &text).unwrap();
    let mut cmd = sb.ecsx(&app());
    cmd.args(["cp", &format!(":{}/app.log", remote_dir(dir.path())), "-"]);
    let out = run(&mut cmd);
    assert_code(&out, 0);
    assert_eq!(out.stdout, text.as_bytes());
    let err = stderr(&out);
    assert!(
        err.contains("gzip on the wire") && err.contains("sha256 verified"),
        "{err}"
    );
    // --no-compress sends it as it is.
    let mut cmd = sb.ecsx(&app());
    cmd.args([
        "cp",
        "--no-compress",
        &format!(":{}/app.log", remote_dir(dir.path())),
        "-",
    ]);
    let out = run(&mut cmd);
    assert_code(&out, 0);
    assert_eq!(out.stdout, text.as_bytes());
    assert!(!stderr(&out).contains("gzip"), "{}", stderr(&out));
}

#[test]
fn stdin_goes_up_and_stdout_takes_a_download() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(dir.path(), None);
    let data = scrambled(200_000, 9);
    let there = format!(":{}/from-stdin.bin", remote_dir(dir.path()));
    let out = run_with_stdin(cp(&sb).arg("-").arg(&there), data.clone());
    assert_code(&out, 0);
    assert_eq!(
        std::fs::read(remote(dir.path(), "from-stdin.bin")).unwrap(),
        data
    );
    let out = run(cp(&sb).arg(&there).arg("-"));
    assert_code(&out, 0);
    assert_eq!(out.stdout, data);
}

#[test]
fn a_folder_tree_round_trips_with_modes_links_and_odd_names() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(dir.path(), None);
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub dir/deeper")).unwrap();
    std::fs::write(tree.join("it's a \"quoted\" name.txt"), "hello\n").unwrap();
    std::fs::write(tree.join("empty"), "").unwrap();
    std::fs::write(tree.join("sub dir/deeper/data.bin"), scrambled(70_000, 3)).unwrap();
    std::fs::write(tree.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(tree.join("run.sh"), std::fs::Permissions::from_mode(0o751)).unwrap();
    std::fs::set_permissions(tree.join("empty"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("it's a \"quoted\" name.txt", tree.join("link")).unwrap();

    let out = run(cp(&sb)
        .arg(&tree)
        .arg(format!(":{}/", remote_dir(dir.path()))));
    assert_code(&out, 0);
    let there = remote(dir.path(), "tree");
    let back = dir.path().join("back");
    let out = run(cp(&sb).arg(format!(":{}", there.display())).arg(&back));
    assert_code(&out, 0);
    for copy in [&there, &back] {
        let diff = Command::new("diff")
            .arg("-r")
            .arg(&tree)
            .arg(copy)
            .output()
            .unwrap();
        assert!(
            diff.status.success(),
            "{}",
            String::from_utf8_lossy(&diff.stdout)
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&copy.join("run.sh")), 0o751);
        assert_eq!(mode(&copy.join("empty")), 0o600);
        assert_eq!(
            std::fs::read_link(copy.join("link")).unwrap(),
            PathBuf::from("it's a \"quoted\" name.txt")
        );
    }
}

#[test]
fn each_error_is_one_line_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(dir.path(), None);
    let r = remote_dir(dir.path());
    std::fs::create_dir_all(remote(dir.path(), "a-folder")).unwrap();
    std::fs::write(dir.path().join("local.txt"), "x").unwrap();
    std::fs::create_dir_all(dir.path().join("local-folder/missing.txt")).unwrap();

    let out = run(cp(&sb).arg(format!(":{r}/missing.txt")).arg(dir.path()));
    assert_one_line_error(
        &out,
        1,
        &[
            "missing.txt does not exist",
            "task 000000000000000000000000000c0c01",
        ],
    );
    let out = run(cp(&sb)
        .arg(dir.path().join("local.txt"))
        .arg(format!(":{r}/no/such/folder/x")));
    assert_one_line_error(&out, 1, &["no/such/folder does not exist", "mkdir -p"]);
    let out = run(cp(&sb)
        .arg(dir.path().join("nope.txt"))
        .arg(format!(":{r}/x")));
    assert_one_line_error(&out, 1, &["nope.txt does not exist"]);
    std::fs::create_dir_all(remote(dir.path(), "a-folder/local.txt")).unwrap();
    let out = run(cp(&sb)
        .arg(dir.path().join("local.txt"))
        .arg(format!(":{r}/a-folder")));
    assert_one_line_error(&out, 1, &["is a folder"]);
    std::fs::write(remote(dir.path(), "missing.txt"), "now it exists").unwrap();
    let out = run(cp(&sb)
        .arg(format!(":{r}/missing.txt"))
        .arg(dir.path().join("local-folder")));
    assert_one_line_error(&out, 1, &["exists and is a folder"]);
    let out = run(cp(&sb)
        .arg(format!(":{r}/missing.txt"))
        .arg(dir.path().join("no-dir/x")));
    assert_one_line_error(&out, 1, &["no-dir does not exist"]);
    let out = run(cp(&sb).arg("a").arg("b"));
    assert_one_line_error(&out, 2, &["neither SRC nor DST is in a container"]);
    let out = run(cp(&sb).arg(":/a").arg(":/b"));
    assert_one_line_error(&out, 2, &["one side of ecsx cp must be local"]);
}

/// A PATH with the usual tools except `tar` and `sha256sum`.
fn path_without(dir: &Path, missing: &[&str]) -> PathBuf {
    let bin = dir.join("limited-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in [
        "sh",
        "base64",
        "stty",
        "cat",
        "tee",
        "wc",
        "head",
        "stat",
        "gzip",
        "sha256sum",
        "tar",
        "tr",
        "mkdir",
        "mv",
        "chmod",
        "rm",
    ] {
        if missing.contains(&tool) {
            continue;
        }
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} is not installed"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

#[test]
fn images_without_tar_or_sha256sum_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let bin = path_without(dir.path(), &["tar", "sha256sum"]);
    let sb = sandbox(dir.path(), Some(&bin));
    let r = remote_dir(dir.path());
    std::fs::create_dir_all(remote(dir.path(), "logs")).unwrap();
    let out = run(cp(&sb)
        .arg(format!(":{r}/logs"))
        .arg(dir.path().join("logs")));
    assert_one_line_error(&out, 1, &["is a folder and the image has no `tar`"]);
    // A single file still copies, and says it was not verified.
    std::fs::write(remote(dir.path(), "one.txt"), "one\n").unwrap();
    let out = run(cp(&sb).arg(format!(":{r}/one.txt")).arg("-"));
    assert_code(&out, 0);
    assert_eq!(stdout(&out), "one\n");
    assert!(stderr(&out).contains("not verified"), "{}", stderr(&out));
}

#[test]
fn an_interrupted_download_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(dir.path(), None);
    let big = remote(dir.path(), "big.bin");
    std::fs::write(&big, scrambled(64 * 1024 * 1024, 5)).unwrap();
    let target = dir.path().join("big.bin");
    let started = Instant::now();
    let out = run(cp(&sb)
        .args(["--timeout", "1s", "--no-compress"])
        .arg(format!(":{}", big.display()))
        .arg(&target));
    assert_code(&out, 124);
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!target.exists(), "a partial file under the final name");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".ecsx-"), "left behind: {name}");
    }
}

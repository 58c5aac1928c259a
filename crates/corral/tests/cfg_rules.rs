//! Rule 1 of the design: platform `cfg` only under `sys/` and `os/`.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("read source dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn violations(root: &Path, allowed: &[&str]) -> Vec<String> {
    let needles = [
        "target_os",
        "target_family",
        "cfg(unix",
        "cfg(windows",
        "cfg(not(unix",
        "cfg(not(windows",
        "cfg(any(unix",
        "cfg(any(windows",
        "cfg(all(unix",
        "cfg(all(windows",
    ];
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let mut bad = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        if allowed.iter().any(|a| rel.starts_with(a)) {
            continue;
        }
        let text = fs::read_to_string(&f).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if needles.iter().any(|nd| compact.contains(nd)) {
                bad.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    bad
}

#[test]
fn platform_cfg_only_in_sys_and_os() {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = violations(&lib, &["sys/", "os/"]);
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corral-cli/src");
    bad.extend(violations(&cli, &[]));
    assert!(
        bad.is_empty(),
        "platform cfg outside sys/ and os/:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_rule_catches_a_violation() {
    let dir = std::env::temp_dir().join(format!("corral-cfg-rule-{}", std::process::id()));
    fs::create_dir_all(dir.join("sys")).unwrap();
    fs::write(
        dir.join("a.rs"),
        "#[cfg( target_os = \"linux\")]\nfn f() {}\n",
    )
    .unwrap();
    fs::write(dir.join("sys/b.rs"), "#[cfg(windows)]\nfn g() {}\n").unwrap();
    let bad = violations(&dir, &["sys/"]);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("a.rs:1"));
}

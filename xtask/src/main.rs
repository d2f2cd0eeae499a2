//! `cargo xtask`: keeps the generated files in sync and runs the checks CI runs.
//!
//! - `cargo xtask generate`: rewrites `openapi/wechat-cloudbase.json` from the YAML, copies the
//!   JSON copy into the build crate (`crates/wechat-cloudbase-openapi/openapi/`, which its
//!   package ships) and refreshes the insta snapshots of the generated client.
//! - `cargo xtask check`: writes nothing; fails, naming `cargo xtask generate`, when any is stale.
//! - `cargo xtask contract`: runs schemathesis (pinned in `tools/requirements.txt`, installed
//!   into `target/py-tools`) against the standalone sandbox on 127.0.0.1 with the spec; its
//!   stateful phase follows the spec's links (share → list → unshare, unshare → list).
//! - `cargo xtask spec`: the spec as a product for other languages: validity and lint of the YAML
//!   and JSON (openapi-spec-validator, Redocly, Spectral), TypeScript types and a Python client
//!   generated and used against a sandbox (share, confirm, list, unshare, list), HTML docs rendered
//!   and checked in headless Chromium, breaking changes (Optic).
//! - `cargo xtask bench [--publish] [--no-build-cost | --build-cost-only]`: the benchmarks and
//!   probes, reported in `target/bench/report.md` (and `docs/benchmarks.md` with `--publish`);
//!   `--build-cost-only` runs the clean builds alone (never published).
//! - `cargo xtask load`: the load run against the standalone sandbox, and SIGKILL rounds on its
//!   state database.
//! - `cargo xtask fuzz [SECONDS]`: each fuzz target for SECONDS (default 600), seeded with the
//!   recorded cases; installs cargo-fuzz if needed.
//! - `cargo xtask package`: the SDK's other TLS features tested, `cargo package` of the published
//!   crates (verified, nothing uploaded), and the SDK README's dependency lines and example built
//!   and run from a crate outside the workspace against the sandbox.
//! - `cargo xtask ci`: formatting, lints, every test, docs, `package`, `check`, `contract`, then
//!   `spec`.
//!   `.ci/run` runs this.

mod bench;
mod spec;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const FIX: &str = "cargo xtask generate";
pub(crate) const SPEC_YAML: &str = "openapi/wechat-cloudbase.yaml";
pub(crate) const SPEC_JSON: &str = "openapi/wechat-cloudbase.json";
/// The build crate's copy of the spec's JSON form: what its `build.rs` reads, shipped in its
/// package.
pub(crate) const SPEC_COPY: &str = "crates/wechat-cloudbase-openapi/openapi/wechat-cloudbase.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate(),
        Some("check") => check(),
        Some("contract") => contract(),
        Some("spec") => spec::check_all(),
        Some("package") => package_checks(),
        Some("bench") => {
            let flags: Vec<&str> = args[1..].iter().map(String::as_str).collect();
            if flags.contains(&"--build-cost-only") {
                bench::run_build_cost_only()
            } else {
                bench::run_bench(flags.contains(&"--publish"), !flags.contains(&"--no-build-cost"))
            }
        }
        Some("load") => load(),
        Some("fuzz") => fuzz(
            args.get(1)
                .map_or(Ok(600), |s| s.parse())
                .map_err(|_| "fuzz takes a number of seconds".to_owned()),
        ),
        Some("ci") => ci(),
        _ => {
            eprintln!(
                "usage: cargo xtask <generate | check | contract | spec | package | ci | bench [--publish] [--no-build-cost | --build-cost-only] | load | fuzz [SECONDS]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root, from this crate's manifest directory.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ is inside the workspace").to_owned()
}

pub(crate) fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(project_root());
    command
}

/// The JSON copy of a YAML spec: the same document, keys in the same order, pretty-printed.
pub fn json_copy(yaml: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_yaml_ng::from_str(yaml).map_err(|e| format!("{SPEC_YAML} is not valid YAML: {e}"))?;
    let mut text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
    text.push('\n');
    Ok(text)
}

/// Fails when `copy` (the build crate's spec) is not byte for byte `spec`, naming the fix.
pub fn check_spec_copy(spec: &Path, copy: &Path) -> Result<(), String> {
    let expected = std::fs::read(spec).map_err(|e| format!("cannot read {}: {e}", spec.display()))?;
    if std::fs::read(copy).ok().as_deref() == Some(expected.as_slice()) {
        return Ok(());
    }
    Err(format!(
        "{} is not identical to {} (the build crate generates the client from its copy); run `{FIX}`",
        copy.display(),
        spec.display()
    ))
}

/// Fails when `json` is not exactly the JSON copy of `yaml`, naming the fix and the first
/// differing line.
pub fn check_json_copy(yaml: &Path, json: &Path) -> Result<(), String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let expected = json_copy(&read(yaml)?.replace("\r\n", "\n"))?;
    let actual = read(json).unwrap_or_default().replace("\r\n", "\n");
    if expected == actual {
        return Ok(());
    }
    let line = expected
        .lines()
        .zip(actual.lines().chain(std::iter::repeat("<end of file>")))
        .enumerate()
        .find(|(_, (e, a))| e != a)
        .map(|(i, (e, a))| format!("first difference at line {}:\n  expected: {e}\n  found:    {a}", i + 1))
        .unwrap_or_else(|| "the files differ in length".into());
    Err(format!("{} is stale; run `{FIX}`\n{line}", json.display()))
}

pub(crate) fn run(command: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {command:?}");
    let status = command.status().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{command:?} failed ({status})")) }
}

/// The tests that hold the snapshots of the generated code (the client, and the operations).
fn snapshot_test() -> Command {
    let mut command = cargo();
    command.args([
        "test",
        "--quiet",
        "-p",
        "wechat-cloudbase-openapi",
        "--test",
        "generated",
        "--",
        "generated_code",
    ]);
    command
}

fn generate() -> Result<(), String> {
    let root = project_root();
    let json = json_copy(&std::fs::read_to_string(root.join(SPEC_YAML)).map_err(|e| e.to_string())?)?;
    let path = root.join(SPEC_JSON);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
        std::fs::write(&path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("xtask: wrote {SPEC_JSON}");
    }
    if check_spec_copy(&root.join(SPEC_JSON), &root.join(SPEC_COPY)).is_err() {
        std::fs::copy(root.join(SPEC_JSON), root.join(SPEC_COPY))
            .map_err(|e| format!("cannot write {SPEC_COPY}: {e}"))?;
        eprintln!("xtask: wrote {SPEC_COPY}");
    }
    run(snapshot_test().env("INSTA_UPDATE", "always").env("INSTA_FORCE_PASS", "1").env_remove("CI"))?;
    // Pending snapshots from earlier failed runs are superseded by the one just written.
    let snapshots = root.join("crates/wechat-cloudbase-openapi/tests/snapshots");
    for entry in std::fs::read_dir(&snapshots).map_err(|e| e.to_string())?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
            std::fs::remove_file(entry.path()).map_err(|e| e.to_string())?;
        }
    }
    eprintln!("xtask: generated files are up to date; review `git diff` before committing");
    Ok(())
}

fn check() -> Result<(), String> {
    let root = project_root();
    check_json_copy(&root.join(SPEC_YAML), &root.join(SPEC_JSON))?;
    check_spec_copy(&root.join(SPEC_JSON), &root.join(SPEC_COPY))?;
    run(snapshot_test().env("INSTA_UPDATE", "no").env("CI", "true")).map_err(|e| {
        format!("the generated client differs from its snapshot ({e}); review it and run `{FIX}`")
    })?;
    eprintln!("xtask: generated files are fresh");
    Ok(())
}

fn ci() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]))?;
    let (passed, failed) =
        run_counting_tests(cargo().args(["test", "--workspace", "--locked"]).env("INSTA_UPDATE", "no"))?;
    run(cargo().args(["doc", "--workspace", "--no-deps", "--locked"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    package_checks()?;
    check()?;
    contract()?;
    spec::check_all()?;
    eprintln!("xtask: ci passed");
    // The summary of every Rust test run above, as the last line.
    println!("cargo test: {passed} passed, {failed} failed");
    Ok(())
}

/// What a user of the published crates meets: the TLS features, the packages, the README.
fn package_checks() -> Result<(), String> {
    tls_features()?;
    package()?;
    outside_user()
}

/// The SDK's TLS features: the default tree builds no aws-lc, and each other choice (none,
/// `rustls-aws-lc`, `native-tls`) passes the transport tests, which prove that the client it
/// builds speaks TLS to an `https://` URL (or, without TLS, refuses one).
fn tls_features() -> Result<(), String> {
    let tree = cargo()
        .args(["tree", "--locked", "-p", "wechat-cloudbase", "-e", "normal", "-i", "aws-lc-sys"])
        .output()
        .map_err(|e| e.to_string())?;
    if tree.status.success() {
        return Err(format!(
            "the SDK's default features build aws-lc-sys:\n{}",
            String::from_utf8_lossy(&tree.stdout)
        ));
    }
    for features in ["", "rustls-aws-lc", "native-tls"] {
        let mut command = cargo();
        command.args([
            "test",
            "--quiet",
            "--locked",
            "-p",
            "wechat-cloudbase",
            "--lib",
            "--no-default-features",
        ]);
        if !features.is_empty() {
            command.args(["--features", features]);
        }
        run(command.args(["--", "transport::tests"]))?;
    }
    Ok(())
}

/// The crates that are published, in dependency order.
const PUBLISHED: [&str; 4] =
    ["wechat-cloudbase-openapi", "wechat-cloudbase", "wechat-cloudbase-sandbox", "wechat-cloudbase-cli"];

/// `cargo package` of every published crate, with verification: each package builds from its
/// own contents (the unpublished ones it depends on come from the packages just made). Nothing
/// is uploaded. Dependencies are built without debug info, as the workspace builds them, so
/// the verification reuses what `cargo test` compiled where features agree.
fn package() -> Result<(), String> {
    forget_unpacked_packages()?;
    let mut command = cargo();
    command.args(["package", "--locked", "--allow-dirty"]);
    for name in PUBLISHED {
        command.args(["-p", name]);
    }
    run(command.env("CARGO_PROFILE_DEV_DEBUG", "false"))
}

/// Removes what an earlier `cargo package` unpacked of this workspace's own packages into
/// cargo's registry sources. Verification unpacks the packages just made from a local registry
/// (`target/package/tmp-registry`) into `$CARGO_HOME/registry/src/-<hash>/NAME-VERSION`, and cargo
/// reuses such a directory as it is when the version has not changed: without this, a second
/// run would verify the dependents against the previous run's package.
fn forget_unpacked_packages() -> Result<(), String> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let Ok(registries) = std::fs::read_dir(home.join("registry/src")) else { return Ok(()) };
    for registry in registries.flatten() {
        // Local registries only: crates.io's directory is `index.crates.io-<hash>`.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for entry in std::fs::read_dir(registry.path()).map_err(|e| e.to_string())?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = PUBLISHED.iter().any(|package| {
                name.strip_prefix(package)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
            });
            if ours {
                std::fs::remove_dir_all(entry.path())
                    .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}

/// The SDK as a new user takes it: a crate outside the workspace whose `Cargo.toml` has the
/// SDK README's path dependency lines and whose `src/main.rs` is the README's example, both
/// verbatim, built and run against the standalone sandbox (seeded with the example's pairs).
fn outside_user() -> Result<(), String> {
    let readme = std::fs::read_to_string(project_root().join(SDK_README)).map_err(|e| e.to_string())?;
    let (dependencies, example) = readme_snippets(&readme)?;
    // `../wechat-cloudbase` next to the project, as the README says: here a link to this clone.
    let dir = std::env::temp_dir().join(format!("wechat-cloudbase-outside-user-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let app = dir.join("app");
    std::fs::create_dir_all(app.join("src")).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(project_root(), dir.join("wechat-cloudbase")).map_err(|e| e.to_string())?;
    let manifest = format!(
        "[package]\nname = \"outside-user\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n{dependencies}"
    );
    std::fs::write(app.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(app.join("src/main.rs"), example).map_err(|e| e.to_string())?;
    // The workspace's lock as a start, so CI resolves the same versions on every run.
    std::fs::copy(project_root().join("Cargo.lock"), app.join("Cargo.lock")).map_err(|e| e.to_string())?;
    let (_sandbox, url) = start_sandbox(&["--seed-example"])?;
    let result = run_echoing(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&app)
            .args(["run", "--quiet"])
            .env("CARGO_TARGET_DIR", target_dir())
            .env("CARGO_PROFILE_DEV_DEBUG", "false")
            .env("WECHAT_API_BASE_URL", &url)
            .env("WECHAT_COMPONENT_ACCESS_TOKEN", "sandbox-component-access-token"),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let output = result.map_err(|e| format!("the README's example, outside the workspace: {e}"))?;
    if !output.contains("unshared 2 pair(s)") {
        return Err(format!("the README's example did not unshare both pairs: {output}"));
    }
    eprintln!("xtask: the README's dependency lines and example build and run outside the workspace");
    Ok(())
}

/// The SDK's README, whose dependency lines and example `outside_user` takes.
pub(crate) const SDK_README: &str = "crates/wechat-cloudbase/README.md";

/// From the SDK's README: the first TOML block with a path dependency, and the first Rust block.
pub(crate) fn readme_snippets(readme: &str) -> Result<(String, String), String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```").filter(|info| !info.is_empty()) {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            blocks.push((info.to_owned(), body.join("\n") + "\n"));
        }
    }
    let toml = blocks
        .iter()
        .find(|(info, body)| info == "toml" && body.contains("path = "))
        .ok_or("the SDK's README has no TOML block with a path dependency")?;
    let rust = blocks
        .iter()
        .find(|(info, _)| info.split(',').next() == Some("rust"))
        .ok_or("the SDK's README has no Rust example")?;
    if rust.1.lines().any(|l| l.trim_start().starts_with("# ") || l.trim() == "#") {
        return Err("the README's example has hidden lines: a user could not copy it".into());
    }
    Ok((toml.1.clone(), rust.1.clone()))
}

/// Runs a `cargo test` command, echoing its output, and adds up its `test result:` lines.
fn run_counting_tests(command: &mut Command) -> Result<(u64, u64), String> {
    let (mut passed, mut failed) = (0, 0);
    for line in run_echoing(command)?.lines() {
        if let Some(rest) = line.strip_prefix("test result: ") {
            let count = |word: &str| -> u64 {
                rest.split(';')
                    .find_map(|part| {
                        part.trim()
                            .trim_start_matches("ok. ")
                            .trim_start_matches("FAILED. ")
                            .strip_suffix(word)
                    })
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0)
            };
            passed += count(" passed");
            failed += count(" failed");
        }
    }
    Ok((passed, failed))
}

/// Runs `command`, echoing its standard output line by line as it comes, and returns that output
/// once it succeeded.
fn run_echoing(command: &mut Command) -> Result<String, String> {
    use std::io::BufRead;
    eprintln!("xtask: running {command:?}");
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let mut output = String::new();
    for line in std::io::BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        output.push_str(&line);
        output.push('\n');
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() { Ok(output) } else { Err(format!("{command:?} failed ({status})")) }
}

/// The directory cargo builds into.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| project_root().join("target"))
}

/// Makes sure `venv` holds the tools pinned in `requirements`, installing them if not. A copy of
/// the requirements inside the venv records what was installed.
pub(crate) fn ensure_python_tools(venv: &Path, requirements: &Path) -> Result<(), String> {
    install_once(requirements, &venv.join("installed-requirements.txt"), || {
        run(Command::new("python3").arg("-m").arg("venv").arg("--clear").arg(venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(requirements))
    })
}

/// Runs `install` unless `stamp` holds the current contents of `pins` (a lockfile or a
/// requirements file), and records them in `stamp` after a successful install.
pub(crate) fn install_once(
    pins: &Path,
    stamp: &Path,
    install: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let wanted = std::fs::read_to_string(pins).map_err(|e| format!("cannot read {}: {e}", pins.display()))?;
    if std::fs::read_to_string(stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    install()?;
    std::fs::write(stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the standalone sandbox on a free port of 127.0.0.1, with `flags` added to its command
/// line (`--seed-example`, `--auto-confirm`, …), and returns it with its base URL.
pub(crate) fn start_sandbox(flags: &[&str]) -> Result<(Stopped, String), String> {
    run(cargo().args(["build", "--quiet", "-p", "wechat-cloudbase-cli"]))?;
    start_sandbox_binary(&target_dir().join("debug/wechat-cloudbase"), flags)
}

/// [`start_sandbox`] with the CLI at `binary` (e.g. a release build).
pub(crate) fn start_sandbox_binary(binary: &Path, flags: &[&str]) -> Result<(Stopped, String), String> {
    use std::io::BufRead;
    let mut child = Command::new(binary)
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .args(flags)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let child = Stopped(child);
    let mut stdout = std::io::BufReader::new(stdout);
    let mut first = String::new();
    stdout.read_line(&mut first).map_err(|e| e.to_string())?;
    // Keep reading, so the sandbox never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = first.trim().rsplit(' ').next().unwrap_or_default().to_owned();
    if !url.starts_with("http://127.0.0.1:") {
        return Err(format!("the sandbox did not announce its address: {first:?}"));
    }
    Ok((child, url))
}

/// Builds, in release, the bench crate's programs and the CLI; returns the directory they are in.
pub(crate) fn build_release_tools() -> Result<PathBuf, String> {
    run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "wechat-cloudbase-bench",
        "-p",
        "wechat-cloudbase-cli",
    ]))?;
    Ok(target_dir().join("release"))
}

/// The load run: 10,000 calls at 64 in flight against the standalone sandbox with a 10% busy
/// fault plan, then the crash phase (5 rounds of SIGKILL under 64 clients changing state, each
/// restarted on the same `--state` database: no acknowledged change may be lost); prints its
/// report (not a timed test) and fails if a change was lost.
fn load() -> Result<(), String> {
    let release = build_release_tools()?;
    run(Command::new(release.join("load")).arg(release.join("wechat-cloudbase")))
}

/// Seeds, from the recorded cases, a corpus per fuzz target: answer bodies, and their errmsgs.
fn seed_corpus(dir: &Path) -> Result<(), String> {
    use base64::Engine;
    let decode = dir.join("decode_answer");
    let rid = dir.join("split_rid");
    for d in [&decode, &rid] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    let cases = project_root().join("tests/data/cases");
    for entry in std::fs::read_dir(&cases).map_err(|e| e.to_string())?.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        for (i, response) in case["responses"].as_array().into_iter().flatten().enumerate() {
            let body = match (response["body_b64"].as_str(), response["body"].as_str()) {
                (Some(b64), _) => {
                    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| e.to_string())?
                }
                (None, Some(text)) => text.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            std::fs::write(decode.join(format!("{name}-{i}")), &body).map_err(|e| e.to_string())?;
            if let Some(errmsg) = serde_json::from_slice::<serde_json::Value>(wechat_strip_bom(&body))
                .ok()
                .and_then(|v| v["errmsg"].as_str().map(str::to_owned))
            {
                std::fs::write(rid.join(format!("{name}-{i}")), errmsg).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

fn wechat_strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// Runs each fuzz target for `seconds`, with libFuzzer through cargo-fuzz. Crashes are left in
/// `fuzz/artifacts/` and fail the command; each must become a regression test.
fn fuzz(seconds: Result<u64, String>) -> Result<(), String> {
    let seconds = seconds?;
    let installed =
        Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !installed {
        run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz", "--version", "0.13.2"]))?;
    }
    let corpus = target_dir().join("fuzz-corpus");
    seed_corpus(&corpus)?;
    for target in ["decode_answer", "split_rid"] {
        // cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
        run(Command::new("cargo")
            .current_dir(project_root().join("fuzz"))
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target])
            .arg(corpus.join(target))
            .args(["--", &format!("-max_total_time={seconds}"), "-rss_limit_mb=2048"]))?;
    }
    eprintln!("xtask: fuzzing found nothing in {seconds} s per target");
    Ok(())
}

fn contract() -> Result<(), String> {
    let root = project_root();
    let venv = target_dir().join("py-tools");
    ensure_python_tools(&venv, &root.join("tools/requirements.txt"))?;
    // The seeded pair makes the documented examples unshare a shared pair. Shares take effect at
    // once: schemathesis cannot open a confirmation URL (that page is the sandbox's, not in the
    // spec), and the stateful phase's links (share -> list -> unshare) should meet shared pairs,
    // not pending ones.
    let (_sandbox, url) = start_sandbox(&["--seed-example", "--auto-confirm"])?;
    // Schemathesis keeps caches in its working directory: give it one under target/.
    let scratch = target_dir().join("contract");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let output = run_echoing(
        Command::new(venv.join("bin/st"))
            .current_dir(&scratch)
            .arg("--config-file")
            .arg(root.join("tools/schemathesis.toml"))
            .arg("run")
            .arg(root.join(SPEC_YAML))
            .args(["--url", &url, "--no-color"]),
    )
    .map_err(|e| format!("the sandbox does not conform to the spec: {e}"))?;
    // A stateful phase that followed no link (or was skipped, as it is without links) proves
    // nothing about share -> list -> unshare: every link of the spec must have been followed.
    match links_covered(&output) {
        Some((covered, selected)) if selected > 0 && covered == selected => {
            eprintln!(
                "xtask: the sandbox conforms to the spec; the stateful phase followed all {selected} links"
            )
        }
        found => {
            return Err(format!(
                "schemathesis's stateful phase did not follow every link of the spec \
                 ((covered, selected) = {found:?}); see its `API Links:` line above"
            ));
        }
    }
    Ok(())
}

/// From schemathesis's output, its stateful phase's `API Links: C covered / S selected / T total`
/// line as `(C, S)`; `None` when the phase did not run.
fn links_covered(output: &str) -> Option<(u32, u32)> {
    let line = output.lines().find_map(|line| line.trim().strip_prefix("API Links:"))?;
    let mut numbers = line.split_whitespace().filter_map(|word| word.parse().ok());
    Some((numbers.next()?, numbers.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test` alone catches a stale JSON copy (the snapshot half is its own test).
    #[test]
    fn the_json_copy_of_the_spec_is_fresh() {
        let root = project_root();
        check_json_copy(&root.join(SPEC_YAML), &root.join(SPEC_JSON)).unwrap();
    }

    /// The same for the build crate's copy of the spec.
    #[test]
    fn the_build_crates_copy_of_the_spec_is_identical() {
        let root = project_root();
        check_spec_copy(&root.join(SPEC_JSON), &root.join(SPEC_COPY)).unwrap();
    }

    #[test]
    fn a_changed_copy_of_the_spec_fails_the_check_naming_the_fix() {
        let root = project_root();
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.yaml");
        let original = std::fs::read_to_string(root.join(SPEC_JSON)).unwrap();
        std::fs::write(&copy, original.replacen("\"version\": \"1.0.0\"", "\"version\": \"1.0.1\"", 1))
            .unwrap();
        let error = check_spec_copy(&root.join(SPEC_JSON), &copy).unwrap_err();
        assert!(error.contains("run `cargo xtask generate`"), "{error}");
        std::fs::write(&copy, &original).unwrap();
        check_spec_copy(&root.join(SPEC_JSON), &copy).unwrap();
    }

    #[test]
    fn a_one_character_change_to_the_yaml_makes_the_check_fail_until_regenerated() {
        let root = project_root();
        let dir = tempfile::tempdir().unwrap();
        let (yaml, json) = (dir.path().join("spec.yaml"), dir.path().join("spec.json"));
        let original = std::fs::read_to_string(root.join(SPEC_YAML)).unwrap();
        std::fs::write(&yaml, &original).unwrap();
        std::fs::write(&json, json_copy(&original).unwrap()).unwrap();
        check_json_copy(&yaml, &json).unwrap();

        std::fs::write(&yaml, original.replacen("version: 1.0.0", "version: 1.0.1", 1)).unwrap();
        let error = check_json_copy(&yaml, &json).unwrap_err();
        assert!(error.contains("run `cargo xtask generate`"), "{error}");
        assert!(error.contains("1.0.1"), "the message shows the difference: {error}");

        std::fs::write(&json, json_copy(&std::fs::read_to_string(&yaml).unwrap()).unwrap()).unwrap();
        check_json_copy(&yaml, &json).unwrap();
    }

    #[test]
    fn the_readme_snippets_are_its_path_dependency_block_and_its_first_rust_block() {
        let readme = "```toml\na = \"0.1\"\n```\n```toml\na = { path = \"../a\" }\n```\n```rust,no_run\nfn main() {}\n```\n";
        let (toml, rust) = readme_snippets(readme).unwrap();
        assert_eq!(toml, "a = { path = \"../a\" }\n");
        assert_eq!(rust, "fn main() {}\n");
        let hidden = readme.replace("fn main() {}", "# fn main() {}");
        assert!(readme_snippets(&hidden).unwrap_err().contains("hidden lines"));
    }

    /// The SDK's README has what `cargo xtask ci` builds outside the workspace.
    #[test]
    fn the_sdk_readme_has_a_path_dependency_and_a_copyable_example() {
        let readme = std::fs::read_to_string(project_root().join(SDK_README)).unwrap();
        let (toml, rust) = readme_snippets(&readme).unwrap();
        assert!(toml.contains("wechat-cloudbase = { path = "), "{toml}");
        assert!(rust.contains("async fn main()"), "{rust}");
    }

    #[test]
    fn links_covered_reads_the_stateful_phase_summary_of_schemathesis() {
        let output = " ✅  Stateful (in 7.26s)\n\n     Scenarios:    63\n     API Links:    2 covered / 3 selected / 3 total\n";
        assert_eq!(links_covered(output), Some((2, 3)));
        assert_eq!(links_covered("  ⏭  Stateful (not applicable)\n"), None);
    }

    #[test]
    fn the_json_copy_keeps_the_yaml_key_order() {
        let json = json_copy("b: 1\na: 2\n").unwrap();
        assert!(json.find("\"b\"").unwrap() < json.find("\"a\"").unwrap());
    }
}

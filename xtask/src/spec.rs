//! `cargo xtask spec`: proves, on every run, that teams in other languages can use the spec.
//!
//! Every tool is pinned (`tools/package-lock.json`, `tools/requirements.txt`) and installed by this
//! command; nothing is sent anywhere but 127.0.0.1 (telemetry of the Node tools is turned off).
//! Each check also runs against a deliberately broken copy of the spec and must fail there, so a
//! check that cannot fail is caught.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{SPEC_JSON, SPEC_YAML, ensure_python_tools, project_root, run, start_sandbox, target_dir};

/// Where this command writes: generated clients, the docs page and its screenshot.
fn out_dir() -> PathBuf {
    target_dir().join("spec-tools")
}

fn tools_dir() -> PathBuf {
    project_root().join("tools")
}

/// A Node tool from `tools/node_modules/.bin`, with telemetry and update checks off.
fn node_tool(name: &str) -> Command {
    let mut command = Command::new(tools_dir().join("node_modules/.bin").join(name));
    command
        .current_dir(project_root())
        .env("REDOCLY_TELEMETRY", "off")
        .env("OPTIC_TELEMETRY_LEVEL", "off")
        .env("SCARF_ANALYTICS", "false")
        .env("NO_UPDATE_NOTIFIER", "1")
        .env("npm_config_update_notifier", "false");
    command
}

fn python_tool(name: &str) -> Command {
    let mut command = Command::new(target_dir().join("py-tools/bin").join(name));
    command.current_dir(project_root());
    command
}

/// Runs `command` and returns whether it succeeded, with its output, without failing.
fn outcome(command: &mut Command) -> Result<(bool, String), String> {
    let output = command.output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

/// Runs `command`, which must fail: a check that passes a broken spec is itself broken.
fn must_fail(what: &str, command: &mut Command) -> Result<(), String> {
    let (ok, text) = outcome(command)?;
    if ok {
        return Err(format!(
            "{what} passed the deliberately broken spec, so it cannot catch anything:\n{text}"
        ));
    }
    eprintln!("xtask: {what} rejects the deliberately broken spec, as it must");
    Ok(())
}

/// `npm ci` in `tools/` unless `node_modules` already matches the lockfile.
fn ensure_node_tools() -> Result<(), String> {
    let tools = tools_dir();
    crate::install_once(
        &tools.join("package-lock.json"),
        &tools.join("node_modules/.installed-lock.json"),
        || {
            run(Command::new("npm")
                .current_dir(&tools)
                .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
                .env("SCARF_ANALYTICS", "false")
                .env("npm_config_update_notifier", "false"))
        },
    )
}

fn read_yaml(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| format!("{} is not YAML: {e}", path.display()))
}

fn write_json(path: &Path, value: &Value) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Copies of the spec with one deliberate fault each, written under `target/spec-tools/broken/`.
struct Broken {
    /// `source_type` has a type that does not exist, and an operation lost its operationId.
    invalid: PathBuf,
    /// `source_type` is no longer required (what the TypeScript program must notice).
    loosened: PathBuf,
    /// A new required request field, same `info.version`: a breaking change.
    breaking: PathBuf,
    /// The same breaking change with a new major `info.version`.
    breaking_major: PathBuf,
}

/// The value at `pointer`, which must exist: a fault that cannot be planted leaves a copy that
/// is not broken, and a check that passes it would prove nothing.
fn at<'a>(value: &'a mut Value, pointer: &str) -> Result<&'a mut Value, String> {
    value.pointer_mut(pointer).ok_or_else(|| format!("the spec has no `{pointer}` to break"))
}

fn broken_copies(spec: &Value) -> Result<Broken, String> {
    let dir = out_dir().join("broken");
    let request = "/components/schemas/BatchEnvRequest";
    let env_appids = "/components/schemas/EnvAppids";

    let mut invalid = spec.clone();
    *at(&mut invalid, "/components/schemas/SourceType/type")? = "intger".into();
    at(&mut invalid, "/paths/~1componenttcb~1batchunshareenv/post")?
        .as_object_mut()
        .and_then(|op| op.remove("operationId"))
        .ok_or("the unshare operation has no operationId to remove")?;

    let mut loosened = spec.clone();
    *at(&mut loosened, &format!("{request}/required"))? = serde_json::json!(["data"]);

    let mut breaking = spec.clone();
    at(&mut breaking, &format!("{env_appids}/properties"))?
        .as_object_mut()
        .ok_or("EnvAppids has no properties")?
        .insert("region".into(), serde_json::json!({"type": "string", "description": "A new field."}));
    at(&mut breaking, &format!("{env_appids}/required"))?
        .as_array_mut()
        .ok_or("EnvAppids has no required list")?
        .push("region".into());
    let mut breaking_major = breaking.clone();
    let version = spec.pointer("/info/version").and_then(Value::as_str).unwrap_or("1.0.0");
    let major: u64 = version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    *at(&mut breaking_major, "/info/version")? = format!("{}.0.0", major + 1).into();

    let copies = Broken {
        invalid: dir.join("invalid.json"),
        loosened: dir.join("loosened.json"),
        breaking: dir.join("breaking.json"),
        breaking_major: dir.join("breaking-major.json"),
    };
    write_json(&copies.invalid, &invalid)?;
    write_json(&copies.loosened, &loosened)?;
    write_json(&copies.breaking, &breaking)?;
    write_json(&copies.breaking_major, &breaking_major)?;
    Ok(copies)
}

/// openapi-spec-validator, `redocly lint` and `spectral lint`, with no error and no warning.
fn validate(spec: &Path) -> Result<(), String> {
    run(python_tool("openapi-spec-validator").arg(spec))?;
    redocly_lint(spec)?;
    run(&mut spectral(spec))?;
    Ok(())
}

fn spectral(spec: &Path) -> Command {
    let mut command = node_tool("spectral");
    command
        .arg("lint")
        .arg(spec)
        .arg("--ruleset")
        .arg(tools_dir().join(".spectral.yaml"))
        .arg("--fail-severity=hint");
    command
}

fn redocly(spec: &Path) -> Command {
    let mut command = node_tool("redocly");
    command
        .arg("lint")
        .arg(spec)
        .arg("--config")
        .arg(tools_dir().join("redocly.yaml"))
        .args(["--format", "json"]);
    command
}

/// `redocly lint`, failing on warnings too (Redocly itself exits 0 on warnings).
fn redocly_lint(spec: &Path) -> Result<(), String> {
    let output = redocly(spec).output().map_err(|e| format!("cannot run redocly: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("redocly lint printed no JSON report ({e}): {stdout}"))?;
    let totals = &report["totals"];
    if !output.status.success() || totals["errors"] != 0 || totals["warnings"] != 0 {
        return Err(format!("redocly lint of {} found problems: {}", spec.display(), report["problems"]));
    }
    eprintln!("xtask: redocly lint: {} is clean", spec.display());
    Ok(())
}

/// TypeScript: types from openapi-typescript, used by `tools/typescript/consumer.ts`; returns
/// the `tsc --strict` command that checks and compiles them into `dir`.
fn typescript(spec: &Path, dir: &Path) -> Result<Command, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for file in ["consumer.ts", "tsconfig.json", "package.json"] {
        std::fs::copy(tools_dir().join("typescript").join(file), dir.join(file))
            .map_err(|e| e.to_string())?;
    }
    run(node_tool("openapi-typescript").arg(spec).arg("-o").arg(dir.join("wechat-cloudbase.ts")))?;
    let mut tsc = node_tool("tsc");
    tsc.arg("-p").arg(dir.join("tsconfig.json"));
    Ok(tsc)
}

/// Runs the TypeScript consumer compiled into `dir` against a standalone sandbox on 127.0.0.1.
fn typescript_calls(dir: &Path) -> Result<(), String> {
    let (_sandbox, url) = start_sandbox(&[])?;
    run(Command::new("node").arg(dir.join("consumer.js")).arg(&url))
}

/// Python: a client from openapi-python-client, used by `tools/python/call_sandbox.py` for real
/// calls against a standalone sandbox on 127.0.0.1.
fn python(spec: &Path) -> Result<(), String> {
    let dir = out_dir().join("python");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    run(python_tool("openapi-python-client")
        .arg("generate")
        .arg("--path")
        .arg(spec)
        .arg("--config")
        .arg(tools_dir().join("python-client.yaml"))
        .args(["--meta", "none", "--output-path"])
        .arg(dir.join("wechat_cloudbase_client")))?;
    let (_sandbox, url) = start_sandbox(&[])?;
    run(python_tool("python")
        .arg(tools_dir().join("python/call_sandbox.py"))
        .arg(&url)
        .env("PYTHONPATH", &dir))
}

/// A copy of the spec for the docs page: the `x-wechat-errcodes` table (which Redoc does not
/// render) appended to `info.description` as a Markdown table. The spec itself keeps the table once.
fn docs_variant(spec: &Value) -> Result<Value, String> {
    let mut docs = spec.clone();
    let rows = spec["x-wechat-errcodes"].as_array().ok_or("the spec has no x-wechat-errcodes table")?;
    let mut table = String::from(
        "\n## Error codes\n\nEvery answer is HTTP 200; the `errcode` field says what happened.\n\n\
         | errcode | errmsg | class | meaning | what to do |\n| --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let cell = |k: &str| row[k].as_str().map(str::to_owned).unwrap_or_else(|| row[k].to_string());
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell("code"),
            cell("errmsg"),
            cell("class"),
            cell("meaning"),
            cell("action")
        ));
    }
    let description = docs["info"]["description"].as_str().unwrap_or_default().to_owned();
    docs["info"]["description"] = format!("{description}{table}").into();
    Ok(docs)
}

/// Debian's Chromium, installed with apt-get when it is missing (CI runs as root).
fn chromium() -> Result<PathBuf, String> {
    let path = PathBuf::from("/usr/bin/chromium");
    if !path.exists() {
        eprintln!("xtask: installing Debian's chromium for the docs check");
        run(Command::new("apt-get").arg("update").arg("-qq"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    Ok(path)
}

/// Headless Chromium with the flags that keep it off the network, and a fresh profile.
fn headless(chromium: &Path, profile: &Path) -> Command {
    let _ = std::fs::remove_dir_all(profile);
    let mut command = Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// Renders the docs page with Redoc and checks, in headless Chromium, that the operation, its
/// parameters and the error-code table are on it; keeps a screenshot.
fn docs(spec: &Value) -> Result<(), String> {
    let dir = out_dir().join("docs");
    let source = dir.join("openapi-docs.json");
    write_json(&source, &docs_variant(spec)?)?;
    let page = dir.join("index.html");
    run(node_tool("redocly")
        .arg("build-docs")
        .arg(&source)
        .arg("--output")
        .arg(&page)
        .arg("--inlineBundle"))?;
    let html = std::fs::read_to_string(&page).map_err(|e| e.to_string())?;
    if html.contains("<script src=\"http") || html.contains("<script src=\"//") {
        return Err(format!("{} loads scripts from the network; it must be self-contained", page.display()));
    }

    let chromium = chromium()?;
    let url = format!("file://{}", page.display());
    let output = headless(&chromium, &dir.join("profile"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .map_err(|e| format!("cannot run chromium: {e}"))?;
    let dom = String::from_utf8_lossy(&output.stdout);
    let expected = [
        ("the operation", "Stop sharing environments with mini programs"),
        ("its path", "/componenttcb/batchunshareenv"),
        ("the token parameter", "access_token"),
        ("the body's data", "source_type"),
        ("the error-code table", "Error codes"),
        ("an error code", "85088"),
        ("its errmsg", "no qbase privilege"),
    ];
    let missing: Vec<&str> =
        expected.iter().filter(|(_, text)| !dom.contains(text)).map(|(what, _)| *what).collect();
    if !missing.is_empty() {
        return Err(format!(
            "the rendered docs page does not show {}: {}",
            missing.join(", "),
            page.display()
        ));
    }
    let screenshot = dir.join("screenshot.png");
    run(headless(&chromium, &dir.join("profile"))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--window-size=1400,2200")
        .arg(&url))?;
    eprintln!(
        "xtask: the docs page shows the operation, parameters and error codes; screenshot: {}",
        screenshot.display()
    );
    Ok(())
}

/// The spec as of the commit to compare with: `HEAD` when the working spec differs from it (a
/// change under way), else `HEAD~1` (CI, on a clean clone of main). `None` without that commit.
fn base_spec() -> Result<Option<(String, PathBuf)>, String> {
    let show = |rev: &str| -> Option<String> {
        let output = Command::new("git")
            .current_dir(project_root())
            .args(["show", &format!("{rev}:{SPEC_YAML}")])
            .output()
            .ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let working = std::fs::read_to_string(project_root().join(SPEC_YAML)).map_err(|e| e.to_string())?;
    let (rev, text) = match show("HEAD") {
        Some(head) if head != working => ("HEAD".to_owned(), head),
        _ => match show("HEAD~1") {
            Some(previous) => ("HEAD~1".to_owned(), previous),
            None => return Ok(None),
        },
    };
    let path = out_dir().join("base").join("wechat-cloudbase.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Ok(Some((rev, path)))
}

/// `optic diff --check` of `head` against `base`. Its validation is `loose`: Optic's strict OpenAPI
/// 3.0 schema gives a link's `requestBody` a `oneOf` of "any value" and "any object", so every
/// object body (the spec's links to getShareCloudbaseEnv) matches both and is rejected, though
/// OpenAPI 3.0.3 allows any value there. The spec's validity is checked by the three validators of
/// `validate`; Optic is here for breaking changes, which it still finds in loose mode.
fn optic(base: &Path, head: &Path) -> Command {
    let mut command = node_tool("optic");
    command
        .arg("diff")
        .arg(base)
        .arg(head)
        .arg("--check")
        .args(["--validation", "loose"])
        .arg("--standard")
        .arg(tools_dir().join("optic-standard.yml"));
    command
}

pub(crate) fn check_all() -> Result<(), String> {
    let root = project_root();
    ensure_node_tools()?;
    ensure_python_tools(&target_dir().join("py-tools"), &tools_dir().join("requirements.txt"))?;
    let yaml = root.join(SPEC_YAML);
    let json = root.join(SPEC_JSON);
    let spec = read_yaml(&yaml)?;
    let broken = broken_copies(&spec)?;

    // Valid and lint-clean, both copies; the broken copy must fail each tool.
    validate(&yaml)?;
    validate(&json)?;
    must_fail("openapi-spec-validator", python_tool("openapi-spec-validator").arg(&broken.invalid))?;
    must_fail("redocly lint", &mut redocly(&broken.invalid))?;
    must_fail("spectral lint", &mut spectral(&broken.invalid))?;

    // TypeScript: compiles against the spec and drives a sandbox through share, confirmation,
    // lookup and unshare; no longer compiles when a required field is not.
    let compiled = out_dir().join("typescript");
    run(&mut typescript(&yaml, &compiled)?)?;
    typescript_calls(&compiled)?;
    must_fail(
        "tsc --strict with a @ts-expect-error for a missing required field",
        &mut typescript(&broken.loosened, &out_dir().join("typescript-loosened"))?,
    )?;

    // Python: a generated client drives a sandbox through the same steps.
    python(&yaml)?;

    // Human docs.
    docs(&spec)?;

    // Breaking changes against the previous version of the spec.
    match base_spec()? {
        Some((rev, base)) => {
            run(&mut optic(&base, &yaml))?;
            eprintln!("xtask: optic: no breaking change against {rev}");
        }
        None => eprintln!("xtask: optic: no earlier commit holds the spec; nothing to compare with"),
    }
    must_fail("optic diff --check on a breaking change", &mut optic(&yaml, &broken.breaking))?;
    run(&mut optic(&yaml, &broken.breaking_major))
        .map_err(|e| format!("optic rejects a breaking change that comes with a new major version: {e}"))?;

    eprintln!("xtask: the spec is valid, lint-clean, consumable from TypeScript and Python, and documented");
    Ok(())
}

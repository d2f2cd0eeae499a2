//! Runs a command and prints its peak resident set size as JSON: `{"max_rss_kb": N, "exit": C}`.
//! `cargo xtask bench` uses it on the CLI's main job.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: peak_rss PROGRAM [ARGS…]");
        std::process::exit(2);
    };
    let status = std::process::Command::new(program)
        .args(rest)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the command runs");
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    // Linux reports ru_maxrss in kilobytes.
    println!("{}", serde_json::json!({"max_rss_kb": usage.max_rss(), "exit": status.code()}));
}

//! `wechat-cloudbase sandbox`: the sandbox as a standalone server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wechat_cloudbase_sandbox::{
    ComponentCredentials, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, FaultPlan, SANDBOX_ACCESS_TOKEN,
    SANDBOX_COMPONENT_APPID, SANDBOX_COMPONENT_APPSECRET, SANDBOX_VERIFY_TICKET, Sandbox, SandboxConfig,
};

/// Options of `wechat-cloudbase sandbox`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SandboxArgs {
    /// Instead of serving, another action on a state file.
    #[command(subcommand)]
    action: Option<SandboxAction>,
    /// Address to listen on; port 0 picks a free port. Only loopback addresses are accepted.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Keep the shared pairs in this state database (redb; created if missing), so they survive
    /// restarts: every change is saved (synced to disk) before it is answered. A file that cannot
    /// be written, or that another sandbox has open, refuses to start (exit 2). Read it as JSON
    /// with `sandbox export --state FILE`.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Share the pairs of this JSON file at start (unless --state names an existing database):
    /// {"shared": [{"env": "…", "appid": "…", "source_type": 1}]}, source_type 1 if left out; what
    /// `sandbox export` prints.
    #[arg(long, value_name = "FILE")]
    seed_file: Option<PathBuf>,
    /// Share the pairs of WeChat's sample request at start (unless --state names an existing
    /// database).
    #[arg(long)]
    seed_example: bool,
    /// Share ENV with APPID at start (unless --state names an existing database); repeatable.
    #[arg(long, value_name = "ENV:APPID", value_parser = parse_pair)]
    share: Vec<(String, String)>,
    /// Also accept this access_token (a sandbox credential; the documented sandbox token is always
    /// accepted).
    #[arg(long, value_name = "TOKEN")]
    access_token: Vec<String>,
    /// Answer 85088 (cloud development not enabled) for this env; repeatable.
    #[arg(long, value_name = "ENV")]
    no_qbase_env: Vec<String>,
    /// Share what shareCloudbaseEnv accepts at once, as if each admin had opened its confirmation
    /// URL (the URLs are still returned, already used). Without it, a share waits for its URL.
    #[arg(long)]
    auto_confirm: bool,
    /// Only these envs exist (besides those of the pairs shared at start); a pair with another env
    /// comes back in err_list with `env not found`; repeatable. Without it, every env exists.
    #[arg(long = "env", value_name = "ENV")]
    envs: Vec<String>,
    /// Lifetime, in seconds, of tokens issued by api_component_token.
    #[arg(long, value_name = "SECONDS", default_value_t = 7200)]
    token_ttl: u64,
    /// The component_appid api_component_token accepts.
    #[arg(long, default_value = SANDBOX_COMPONENT_APPID)]
    component_appid: String,
    /// The component_appsecret api_component_token accepts (a sandbox credential).
    #[arg(long, default_value = SANDBOX_COMPONENT_APPSECRET)]
    component_appsecret: String,
    /// The component_verify_ticket api_component_token accepts (a sandbox credential).
    #[arg(long, default_value = SANDBOX_VERIFY_TICKET)]
    component_verify_ticket: String,
    /// Faults to inject, deterministic from the seed, e.g.
    /// `busy=0.3,gateway=0.1,reset=0.05,stall=0.05,text-plain=0.2,latency-ms=20,seed=7`.
    #[arg(long, value_name = "PLAN", value_parser = |s: &str| s.parse::<FaultPlan>())]
    faults: Option<FaultPlan>,
    /// The most connections served at once; when that many are open, new ones wait in the
    /// listen backlog until one closes.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Close a connection that takes longer than this, in seconds, to send a request's headers:
    /// after it connects and after each answer (so also an idle keep-alive connection).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

/// What `wechat-cloudbase sandbox` does instead of serving.
#[derive(Debug, clap::Subcommand)]
enum SandboxAction {
    /// Print the shared pairs of a state database as JSON, the shape --seed-file reads:
    /// {"shared": [{"env": "…", "appid": "…", "source_type": 1}]}. The sandbox using it must be
    /// stopped first (a state database has one process at a time).
    ///
    /// Exit codes: 0 printed, 2 the file cannot be read (missing, in use, not a state database).
    Export {
        /// The state database, as given to `sandbox --state`.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
    },
}

/// `sandbox export`: prints the pairs of `state` as JSON; exit 0, or 2 when it cannot be read.
fn export(state: &std::path::Path) -> ExitCode {
    match wechat_cloudbase_sandbox::export_state(state) {
        Ok(json) => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            match out.write_all(json.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: cannot write the export: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((env, appid)) if !env.is_empty() && !appid.is_empty() => Ok((env.to_owned(), appid.to_owned())),
        _ => Err(format!("`{text}` is not ENV:APPID")),
    }
}

/// Runs the sandbox until Ctrl-C or SIGTERM. Exit 0 on a clean stop, 2 for bad options (a state
/// file that cannot be written or is in use included). Or runs its `export`.
pub fn run(args: SandboxArgs) -> ExitCode {
    if let Some(SandboxAction::Export { state }) = &args.action {
        return export(state);
    }
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "error: --listen must be a loopback address (127.0.0.1 or [::1]), not {}",
            args.listen.ip()
        );
        return ExitCode::from(2);
    }
    let mut access_tokens = vec![SANDBOX_ACCESS_TOKEN.to_owned()];
    access_tokens.extend(args.access_token);
    let config = SandboxConfig::default()
        .with_listen(args.listen)
        .with_seed_example(args.seed_example)
        .with_shared(args.share)
        .with_seed_file(args.seed_file)
        .with_state_file(args.state)
        .with_access_tokens(access_tokens)
        .with_no_qbase_envs(args.no_qbase_env)
        .with_envs((!args.envs.is_empty()).then_some(args.envs))
        .with_auto_confirm(args.auto_confirm)
        .with_component(ComponentCredentials::new(
            args.component_appid,
            args.component_appsecret,
            args.component_verify_ticket,
        ))
        .with_token_ttl(Duration::from_secs(args.token_ttl))
        .with_faults(args.faults.unwrap_or_default())
        .with_max_connections(args.max_connections as usize)
        .with_idle_timeout(Duration::from_secs(args.idle_timeout));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let sandbox = match Sandbox::start(config.clone()).await {
            Ok(sandbox) => sandbox,
            Err(error) => {
                eprintln!("error: cannot start the sandbox: {error}");
                return ExitCode::from(2);
            }
        };
        // Written with errors ignored: a closed stdout must not stop the server.
        let mut banner = format!("wechat-cloudbase sandbox listening on {}\n", sandbox.base_url());
        banner.push_str(&format!("  access_token accepted: {SANDBOX_ACCESS_TOKEN} (a sandbox credential, not a secret)\n"));
        banner.push_str(&format!(
            "  api_component_token accepts component_appid={} component_appsecret={} component_verify_ticket={}\n",
            config.component.component_appid,
            config.component.component_appsecret,
            config.component.component_verify_ticket
        ));
        banner.push_str(&format!(
            "  shared pairs: {} under source_type 1, {} under source_type 0\n",
            sandbox.shared_pairs().len(),
            sandbox.shared_pairs_under(0).len()
        ));
        banner.push_str(if config.auto_confirm {
            "  shares are confirmed at once (--auto-confirm)\n"
        } else {
            "  a share waits until its confirmation URL is opened\n"
        });
        if let Some(envs) = &config.envs {
            banner.push_str(&format!("  envs that exist: {} (any other: env not found)\n", envs.join(", ")));
        }
        if !config.faults.is_empty() {
            banner.push_str(&format!("  faults: {}\n", config.faults));
        }
        banner.push_str("  nothing is sent to WeChat; stop with Ctrl-C\n");
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(banner.as_bytes());
            let _ = out.flush();
        }
        wait_for_stop().await;
        sandbox.shutdown().await;
        eprintln!("sandbox stopped");
        ExitCode::SUCCESS
    })
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
async fn wait_for_stop() {
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(signal) => signal,
        Err(error) => {
            eprintln!("warning: cannot listen for SIGTERM ({error}); stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

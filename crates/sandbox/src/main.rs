//! `tsched-sandbox`: runs the sandbox on a port, prints one JSON line
//! (`{"base_url", "tenant_id", "client_id", "host_upn", "admin_upn"}`) when ready, and serves
//! until killed (SIGINT/SIGTERM).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use tsched_sandbox::{Sandbox, SandboxConfig, Seed};

#[derive(Debug, Parser)]
#[command(
    name = "tsched-sandbox",
    about = "Local Microsoft identity platform + Graph emulator"
)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed file (JSON, see docs/SANDBOX.md); default: the built-in tenant.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Auto-approve sign-in/consent pages (implies an admin grant at start).
    #[arg(long)]
    auto_consent: bool,
    /// Graph throttle ceiling in requests/second per client+tenant.
    #[arg(long)]
    throttle: Option<f64>,
    /// Share (0..=1) of Graph requests answered with an injected fault.
    #[arg(long, default_value_t = 0.0)]
    faults: f64,
    /// Seed of the fault RNG.
    #[arg(long, default_value_t = 0)]
    seed_rng: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seed = match &args.seed {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading seed file {}", path.display()))?;
            Seed::from_json(&text)
                .with_context(|| format!("parsing seed file {}", path.display()))?
        }
        None => Seed::default_tenant(),
    };
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.faults),
        "--faults must be between 0 and 1"
    );
    let config = SandboxConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], args.port)),
        seed,
        auto_consent: args.auto_consent,
        throttle_rps: args.throttle,
        fault_rate: args.faults,
        rng_seed: args.seed_rng,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::spawn(config).await?;
    let h = sandbox.handle();
    let ready = serde_json::json!({
        "base_url": sandbox.base_url(),
        "tenant_id": h.tenant_id(),
        "client_id": h.client_id(),
        "host_upn": h.host_upn(),
        "admin_upn": h.admin_upn(),
    });
    println!("{ready}");
    wait_for_signal().await;
    sandbox.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

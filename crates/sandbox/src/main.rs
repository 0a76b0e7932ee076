//! `tsched-sandbox`: runs the sandbox on a port, prints one JSON line
//! (`{"base_url", "tenant_id", "client_id", "host_upn", "admin_upn"}`, plus `"ca_file"` with
//! `--tls`) when ready, and serves until killed (SIGINT/SIGTERM).

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
    /// Serve HTTPS with a certificate signed by a CA made at start (its PEM: "ca_file").
    #[arg(long)]
    tls: bool,
    /// With --tls: where to write the CA certificate (PEM); default: a temp file removed at exit.
    #[arg(long, requires = "tls")]
    ca_file: Option<PathBuf>,
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
        tls: args.tls,
        ca_file: args.ca_file.clone(),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::spawn(config).await?;
    let h = sandbox.handle();
    let mut ready = serde_json::json!({
        "base_url": sandbox.base_url(),
        "tenant_id": h.tenant_id(),
        "client_id": h.client_id(),
        "host_upn": h.host_upn(),
        "admin_upn": h.admin_upn(),
    });
    if let Some(ca) = sandbox.ca_file() {
        ready["ca_file"] = serde_json::json!(ca.display().to_string());
    }
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

//! Throughput bench: concurrent keep-alive clients calling `GET /v1.0/me` with a valid token
//! against a sandbox on 127.0.0.1 (throttling and faults off). Prints requests/second.
//! Run: `cargo bench -p tsched-sandbox`. Target: ≥ 5,000 req/s on a 2-core machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tsched_sandbox::{Sandbox, SandboxConfig};

const CLIENTS: usize = 16;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("invariant: a tokio runtime can be built");
    rt.block_on(run());
}

async fn run() {
    let sb = Sandbox::spawn(SandboxConfig::default())
        .await
        .expect("invariant: the sandbox starts on 127.0.0.1:0");
    let tokens = sb
        .handle()
        .mint_tokens("teams.scheduler@contoso.example", None, None)
        .expect("invariant: the default seed has the host account");
    let auth = format!(
        "Bearer {}",
        tokens["access_token"].as_str().unwrap_or_default()
    );
    let url = format!("{}/me", sb.graph_base_url());
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_at = Instant::now() + WARMUP + MEASURE;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (url, auth, ok, failed, measuring) = (
            url.clone(),
            auth.clone(),
            ok.clone(),
            failed.clone(),
            measuring.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("invariant: reqwest client builds");
            while Instant::now() < stop_at {
                let good = match client.get(&url).header("Authorization", &auth).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if measuring.load(Ordering::Relaxed) {
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(WARMUP).await;
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    let rps = n as f64 / secs;
    println!(
        "sandbox throughput: GET /v1.0/me, {CLIENTS} keep-alive clients, {:.1} s: {n} ok, {} failed, {rps:.0} req/s",
        secs,
        failed.load(Ordering::Relaxed)
    );
    if rps < 5_000.0 {
        eprintln!("WARNING: below the 5,000 req/s target");
    }
}

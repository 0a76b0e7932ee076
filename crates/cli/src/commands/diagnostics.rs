//! `tsched diagnostics export FILE.zip`: the bundle support asks for (recent logs, versions,
//! schema, integration status, recent failures with request-ids). A few lines over
//! `tsched_core::diagnostics`, which owns what goes in and what never does.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use tsched_core::diagnostics::{self, Environment};

use super::Context;

#[derive(Debug, Subcommand)]
pub enum DiagnosticsCmd {
    /// Write the diagnostics bundle (a zip, readable by you only) to FILE; it must not exist.
    Export {
        /// Where to write the zip, e.g. diagnostics.zip.
        #[arg(value_name = "FILE.zip")]
        file: PathBuf,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: DiagnosticsCmd, ctx: &Context) -> anyhow::Result<()> {
    match cmd {
        DiagnosticsCmd::Export { file, json } => {
            let data_dir = tsched_core::paths::resolve_data_dir(ctx.data_dir.as_deref())
                .context("no data directory: pass --data-dir or set TSCHED_DATA_DIR")?;
            let env = Environment {
                front_end: "cli".into(),
                app_version: env!("CARGO_PKG_VERSION").into(),
                webkitgtk_version: None,
            };
            let out = match ctx.store() {
                Ok(store) => {
                    let actor = ctx.actor(&store)?;
                    diagnostics::export(&store, &actor, &data_dir, &env, &file)?
                }
                // A broken store is when support is needed most: logs and versions still go.
                Err(e) => {
                    let why = format!("{e:#}");
                    eprintln!("tsched: warning: the store could not be opened ({why}); exporting logs and versions only");
                    diagnostics::export_without_store(&data_dir, &env, &file, &why)?
                }
            };
            if json {
                crate::output::json(&out)?;
            } else {
                println!("{}", out.path.display());
                for e in &out.entries {
                    eprintln!("  {e}");
                }
            }
            Ok(())
        }
    }
}

//! The lease a run holds on its batch, on this machine's side: who this run is (pid, host and a
//! random run id: [`Holder`]), how long a lease lasts and how often it is renewed, and whether a
//! holder is still there (its lease has not lapsed and, on this host, its process exists). The
//! statements live in the store (`BatchTable::batch_lease_*`), the pure rules in
//! `store::batches` ([`Lease::live`], [`BatchRow::shown`]); this module only adds the clock,
//! the host name and the process table.
//!
//! Clocks: a lease's instants are written by the holder's clock and judged by the reader's, so
//! workstations sharing a team database are assumed to agree within [`LEASE_TTL`]. A reader
//! whose clock runs ahead takes a live run's lease over; that run's next heartbeat finds it
//! gone and stops, and `createOrGet` keeps the two from making a meeting twice.

use std::sync::OnceLock;
use std::time::Duration;

use crate::store::batches::{BatchRow, Holder, Lease};

/// How long a lease lasts unless renewed: how long a batch whose holder vanished without trace
/// (another host, or a process this host cannot see) still reads `running`.
pub(super) const LEASE_TTL: Duration = Duration::from_secs(30);

/// How often a run renews its lease: several times per [`LEASE_TTL`], so a slow write or two
/// does not let it lapse.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(5);

/// A new holder for one run of this process.
pub(super) fn this_run() -> Holder {
    Holder::new(
        std::process::id(),
        this_host(),
        &format!("{:016x}", rand::random::<u64>()),
    )
}

/// When a lease taken or renewed now lapses, in the store's text form.
pub(super) fn until_from_now() -> String {
    let ttl = chrono::Duration::from_std(LEASE_TTL).expect("invariant: the TTL is small");
    crate::time::to_db(chrono::Utc::now() + ttl)
}

/// Whether the run holding `lease` is still there now.
pub(super) fn live(lease: &Lease) -> bool {
    lease.live(&crate::time::now_db(), this_host(), process_alive)
}

/// `batch` as front ends show it (`interrupted` when stored `running` and its run is gone).
pub(super) fn shown(batch: BatchRow) -> BatchRow {
    batch.shown(live)
}

/// This machine's name (the kernel's host name; else `$HOSTNAME`; else `localhost`), read once.
pub(crate) fn this_host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_string())
    })
}

/// Whether process `pid` of this host exists (a zombie, killed but not yet reaped, does not
/// count); `None` when this platform or the process table's permissions cannot tell.
fn process_alive(pid: u32) -> Option<bool> {
    if pid == std::process::id() {
        return Some(true);
    }
    if cfg!(target_os = "linux") {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // proc(5): "pid (comm) state …"; comm may hold spaces and parentheses.
            Ok(stat) => {
                let state = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.trim_start().chars().next());
                Some(!matches!(state, Some('Z' | 'X' | 'x')))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(false),
            Err(_) => None,
        }
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_an_exited_child_is_not() {
        assert_eq!(
            process_alive(std::process::id()),
            Some(true),
            "the running process is alive"
        );
        if !cfg!(target_os = "linux") {
            return;
        }
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        // Exited but not reaped: a zombie, which holds no lease any more.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while process_alive(pid) != Some(false) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(process_alive(pid), Some(false), "a zombie is gone");
        child.wait().expect("reap");
        assert_eq!(process_alive(pid), Some(false), "a reaped process is gone");
    }

    #[test]
    fn a_lease_of_this_run_is_live_until_it_lapses() {
        let holder = this_run();
        let lease = Lease {
            holder: holder.stored(),
            since: crate::time::now_db(),
            until: until_from_now(),
        };
        assert!(live(&lease), "this process holds a fresh lease");
        let lapsed = Lease {
            until: "2000-01-01T00:00:00Z".into(),
            ..lease
        };
        assert!(
            !live(&lapsed),
            "a lapsed lease is not live, whoever holds it"
        );
        assert!(
            HEARTBEAT * 3 <= LEASE_TTL,
            "several heartbeats fit in one lease"
        );
    }
}

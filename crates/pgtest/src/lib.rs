//! A throwaway PostgreSQL cluster for tests that need a real server: `initdb` into a temp dir,
//! `pg_ctl start` on a free `127.0.0.1` port with TLS on (a CA and server certificate made here
//! for the run), and on drop `pg_ctl -m immediate stop` and the directory removed.
//!
//! Why a real server and not a mock: the team store's last line of defence is the database
//! itself (logins, GRANTs, row-level security), and only a real server proves what a login may
//! do. This crate is test-only (`publish = false`, a dev-dependency); it owns starting, stopping
//! and talking to the cluster as its superuser, and knows nothing of the app's schema.
//!
//! Facts it relies on (Debian 12, `postgresql` 15): the server binaries live in
//! `/usr/lib/postgresql/<major>/bin`, which is not on `PATH`; the server refuses to run as root,
//! so as root `initdb`/`pg_ctl` run through `runuser -u postgres --` on a temp dir that user owns.
//! The superuser `postgres` is reached only over the private Unix socket (`local all postgres
//! trust`); every other login comes over TCP with SCRAM, TLS or not as pg_hba.conf says.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// The cluster's superuser (made by `initdb -U postgres`), reachable over the socket only.
pub const SUPERUSER: &str = "postgres";

/// The address the server listens on.
pub const HOST: &str = "127.0.0.1";

/// The names the server certificate is valid for.
pub const SERVER_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// The pg_hba.conf a cluster starts with, in order (first match wins).
pub const HBA: &str = "\
local   all  postgres                 trust
hostssl all  all       127.0.0.1/32   scram-sha-256
host    all  all       127.0.0.1/32   scram-sha-256
";

const FIX: &str = "run `scripts/ensure-deps.sh test` (it installs Debian's `postgresql` package)";

/// What a `psql` run printed, and whether it succeeded.
#[derive(Debug, Clone)]
pub struct PsqlOutput {
    /// psql exited 0 (with `ON_ERROR_STOP=1`: every statement succeeded).
    pub success: bool,
    /// Rows, unaligned and tuples only (`-A -t`).
    pub stdout: String,
    /// psql's and the server's messages (`ERROR: permission denied …`).
    pub stderr: String,
}

/// A running throwaway cluster. Dropping it stops the server (`-m immediate`) and removes the
/// directory.
#[derive(Debug)]
pub struct Cluster {
    /// Root of everything: `data/`, `sock/`, the certificates, `server.log`.
    dir: Option<tempfile::TempDir>,
    bin: PathBuf,
    port: u16,
    /// `Some((uid, gid))` of the `postgres` OS user when we run as root.
    run_as: Option<(u32, u32)>,
    ca_file: PathBuf,
}

impl Cluster {
    /// initdb + pg_ctl start on a free 127.0.0.1 port, `ssl = on` with a freshly generated CA and
    /// server certificate (SAN 127.0.0.1 and localhost), the [`HBA`] rules and
    /// `password_encryption = scram-sha-256`.
    ///
    /// # Panics
    /// When PostgreSQL is not installed (naming `scripts/ensure-deps.sh test`), or the cluster
    /// cannot be made or started (with the server's log).
    pub fn start() -> Cluster {
        let bin = bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's server programs (initdb, pg_ctl, psql) are not in \
                 /usr/lib/postgresql/*/bin nor on PATH; {FIX}"
            )
        });
        let run_as = if running_as_root() {
            Some(postgres_user().unwrap_or_else(|| {
                panic!(
                    "running as root, the server must run as the `postgres` OS user, which does \
                     not exist; {FIX}"
                )
            }))
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("tsched-pg-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot make the cluster's temp dir: {e}"));
        let root = dir.path().to_path_buf();
        let sock = root.join("sock");
        std::fs::create_dir(&sock).unwrap_or_else(|e| panic!("mkdir {}: {e}", sock.display()));
        let ca_file = root.join("ca.pem");
        let (ca_pem, cert_pem, key_pem) = certificates();
        write_file(&ca_file, &ca_pem, 0o644);
        write_file(&root.join("server.crt"), &cert_pem, 0o644);
        write_file(&root.join("server.key"), &key_pem, 0o600);
        if let Some((uid, gid)) = run_as {
            for p in [
                &root,
                &sock,
                &root.join("server.crt"),
                &root.join("server.key"),
            ] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid))
                    .unwrap_or_else(|e| panic!("chown postgres {}: {e}", p.display()));
            }
        }

        let mut cluster = Cluster {
            dir: Some(dir),
            bin,
            port: 0,
            run_as,
            ca_file,
        };
        let data = cluster.data_dir();
        let out = cluster.server_cmd(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "--no-sync".as_ref(),
                "--no-instructions".as_ref(),
            ],
        );
        if !out.status.success() {
            panic!(
                "initdb failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let conf = format!(
            "\n# tsched-pgtest\n\
             ssl = on\n\
             ssl_cert_file = '{root}/server.crt'\n\
             ssl_key_file = '{root}/server.key'\n\
             password_encryption = 'scram-sha-256'\n\
             # A throwaway cluster: durability buys nothing, speed does.\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             shared_buffers = 16MB\n\
             max_connections = 40\n",
            root = conf_escape(&root.to_string_lossy()),
        );
        append_file(&data.join("postgresql.conf"), &conf);
        std::fs::write(data.join("pg_hba.conf"), HBA)
            .unwrap_or_else(|e| panic!("write pg_hba.conf: {e}"));

        // A free port is only free until someone takes it: retry on a bind failure.
        let mut last_log = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            let opts = format!(
                "-p {} -k '{}' -c listen_addresses={HOST}",
                cluster.port,
                sock.display()
            );
            let log = cluster.log_file();
            let out = cluster.server_cmd(
                "pg_ctl",
                &[
                    "start".as_ref(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-o".as_ref(),
                    opts.as_ref(),
                ],
            );
            if out.status.success() {
                return cluster;
            }
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
            if !last_log.contains("could not bind") && !last_log.contains("Address already in use")
            {
                break;
            }
        }
        panic!("pg_ctl start failed; server log:\n{last_log}");
    }

    /// The TCP port the server listens on (at [`Cluster::host`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// PEM of the CA that signed the server certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The cluster's directory (data, socket, certificates, log); gone after drop.
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("invariant: the dir lives as long as the cluster")
            .path()
    }

    /// The private socket directory (`-k`).
    pub fn socket_dir(&self) -> PathBuf {
        self.dir().join("sock")
    }

    /// The data directory (`PGDATA`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir().join("data")
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.dir().join("server.log")
    }

    /// The server log so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_default()
    }

    /// Runs SQL as the superuser over the private socket (`psql -v ON_ERROR_STOP=1`, statements
    /// read from stdin, so each is its own statement), returns the rows printed (`-A -t`:
    /// unaligned, tuples only, one row a line).
    ///
    /// # Panics
    /// When a statement fails, with psql's message.
    pub fn superuser_sql(&self, db: &str, sql: &str) -> String {
        let sock = self.socket_dir();
        let port = self.port.to_string();
        let out = self.psql(
            &[
                "-h".as_ref(),
                sock.as_os_str(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "-d".as_ref(),
                db.as_ref(),
            ],
            None,
            sql,
        );
        if !out.success {
            panic!(
                "superuser SQL failed in database {db}: {}\nSQL: {sql}",
                out.stderr
            );
        }
        out.stdout
    }

    /// Creates a database (owned by `owner` if given) and returns its name.
    pub fn create_database(&self, name: &str, owner: Option<&str>) -> String {
        let owner = owner
            .map(|o| format!(" OWNER {}", quote_ident(o)))
            .unwrap_or_default();
        self.superuser_sql(
            "postgres",
            &format!("CREATE DATABASE {}{owner};", quote_ident(name)),
        );
        name.to_string()
    }

    /// Creates a LOGIN role with this password (stored as a SCRAM verifier).
    pub fn create_login(&self, login: &str, password: &str) {
        self.superuser_sql(
            "postgres",
            &format!(
                "SET password_encryption = 'scram-sha-256';\n\
                 CREATE ROLE {} LOGIN PASSWORD {};",
                quote_ident(login),
                quote_literal(password)
            ),
        );
    }

    /// A `postgres://login:password@127.0.0.1:port/db?sslmode=...` URL (login, password and
    /// database percent-encoded).
    pub fn url(&self, login: &str, password: &str, db: &str, sslmode: &str) -> String {
        format!(
            "postgres://{}:{}@{HOST}:{}/{}?sslmode={sslmode}",
            percent_encode(login),
            percent_encode(password),
            self.port,
            percent_encode(db)
        )
    }

    /// Runs psql as `login` over TCP with TLS verified against [`Cluster::ca_file`]
    /// (`sslmode=verify-full`; PGPASSWORD in the child's environment only). For tests that prove
    /// what a raw psql session may do.
    pub fn psql_as(&self, login: &str, password: &str, db: &str, sql: &str) -> PsqlOutput {
        self.psql_as_sslmode(login, password, db, sql, "verify-full")
    }

    /// [`Cluster::psql_as`] with another `sslmode` (`disable` proves what a non-TLS session
    /// gets).
    pub fn psql_as_sslmode(
        &self,
        login: &str,
        password: &str,
        db: &str,
        sql: &str,
        sslmode: &str,
    ) -> PsqlOutput {
        let conninfo = format!(
            "host={HOST} port={} dbname={} user={} sslmode={} sslrootcert={}",
            self.port,
            conninfo_value(db),
            conninfo_value(login),
            conninfo_value(sslmode),
            conninfo_value(&self.ca_file.to_string_lossy()),
        );
        self.psql(&["-d".as_ref(), conninfo.as_ref()], Some(password), sql)
    }

    /// Turns TLS on or off (`ALTER SYSTEM SET ssl`, reloaded), for tests of a server without TLS.
    pub fn set_ssl(&self, on: bool) {
        let v = if on { "on" } else { "off" };
        self.superuser_sql("postgres", &format!("ALTER SYSTEM SET ssl = {v};"));
        self.reload();
        let shown = self.superuser_sql("postgres", "SHOW ssl;");
        assert_eq!(shown.trim(), v, "the server must have reloaded ssl = {v}");
    }

    /// Puts `rule` (one pg_hba.conf line) before the existing rules and reloads, e.g.
    /// `hostnossl all "bob@contoso.com" 127.0.0.1/32 reject` for a TLS-only login.
    pub fn add_hba_rule_first(&self, rule: &str) {
        let path = self.data_dir().join("pg_hba.conf");
        let old = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        std::fs::write(&path, format!("{rule}\n{old}"))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        let errors = self.superuser_sql(
            "postgres",
            "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL;",
        );
        assert_eq!(errors.trim(), "0", "the pg_hba rule {rule:?} must parse");
        self.reload();
    }

    /// `pg_reload_conf()`, then waits until a new session sees the new configuration (the
    /// postmaster applies a reload asynchronously; new backends inherit its state).
    pub fn reload(&self) {
        let before = self.superuser_sql("postgres", "SELECT pg_conf_load_time();");
        self.superuser_sql("postgres", "SELECT pg_reload_conf();");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.superuser_sql("postgres", "SELECT pg_conf_load_time();") == before {
            assert!(
                Instant::now() < deadline,
                "the server did not reload its configuration within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (`pg_ctl -m immediate stop`) and removes the directory; the same as
    /// dropping it.
    pub fn stop(self) {
        drop(self);
    }

    /// Stops the server, leaving the directory: for tests of "server down". Idempotent.
    pub fn stop_server(&self) {
        let data = self.data_dir();
        let _ = self.server_cmd(
            "pg_ctl",
            &[
                "stop".as_ref(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "-D".as_ref(),
                data.as_os_str(),
            ],
        );
    }

    /// Runs a server program (`initdb`, `pg_ctl`) as the `postgres` OS user when we are root.
    fn server_cmd(&self, program: &str, args: &[&std::ffi::OsStr]) -> Output {
        let exe = self.bin.join(program);
        let mut cmd = match self.run_as {
            Some(_) => {
                let mut c = Command::new("runuser");
                c.args(["-u", SUPERUSER, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args)
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        clear_pg_env(&mut cmd);
        cmd.output().unwrap_or_else(|e| {
            panic!(
                "cannot run {}{}: {e}; {FIX}",
                if self.run_as.is_some() {
                    "runuser -u postgres -- "
                } else {
                    ""
                },
                exe.display()
            )
        })
    }

    fn psql(
        &self,
        conn_args: &[&std::ffi::OsStr],
        password: Option<&str>,
        sql: &str,
    ) -> PsqlOutput {
        let exe = self.bin.join("psql");
        let mut cmd = Command::new(&exe);
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(conn_args)
            .args(["-f", "-"])
            .current_dir(self.dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        clear_pg_env(&mut cmd);
        if let Some(pw) = password {
            cmd.env("PGPASSWORD", pw);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; {FIX}", exe.display()));
        {
            let mut stdin = child.stdin.take().expect("invariant: stdin is piped");
            // psql may exit before reading everything (a refused connection): not our error.
            let _ = stdin.write_all(sql.as_bytes());
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("psql did not finish: {e}"));
        PsqlOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.dir.is_some() {
            self.stop_server();
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            if let Err(e) = dir.close() {
                eprintln!("tsched-pgtest: cannot remove {}: {e}", path.display());
            }
        }
    }
}

/// The directory holding `initdb`, `pg_ctl` and `psql`: the newest
/// `/usr/lib/postgresql/<major>/bin`, else the `PATH` entry holding `initdb`.
pub fn bin_dir() -> Option<PathBuf> {
    let has_all = |d: &Path| {
        ["initdb", "pg_ctl", "psql"]
            .iter()
            .all(|p| d.join(p).is_file())
    };
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_all(&bin).then_some((major, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|d| {
        // /usr/local/bin/initdb may be a symlink into the real bin dir, where psql is too.
        let initdb = d.join("initdb");
        let real = std::fs::canonicalize(&initdb).ok()?;
        let dir = real.parent()?.to_path_buf();
        has_all(&dir).then_some(dir)
    })
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective uid).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The `postgres` OS user's uid and gid, from /etc/passwd.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == SUPERUSER {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

/// libpq environment variables that would redirect our commands elsewhere.
fn clear_pg_env(cmd: &mut Command) {
    for v in [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGOPTIONS",
        "PGDATA",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGCONNECT_TIMEOUT",
    ] {
        cmd.env_remove(v);
    }
    cmd.env("PGCONNECT_TIMEOUT", "10");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind((HOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free port on {HOST}: {e}"))
}

/// (CA PEM, server certificate PEM, server key PEM): a fresh ECDSA P-256 CA valid a day back to
/// a year ahead, and a server certificate it signed for [`SERVER_NAMES`].
fn certificates() -> (String, String, String) {
    let fail = |e: rcgen::Error| -> ! { panic!("cannot generate the cluster's certificate: {e}") };
    let now = time::OffsetDateTime::now_utc();
    let not_before = now - time::Duration::days(1);
    let not_after = now + time::Duration::days(365);

    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail(e));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "tsched-pgtest CA (local tests only)");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate().unwrap_or_else(|e| fail(e));
    let ca_cert = ca.self_signed(&ca_key).unwrap_or_else(|e| fail(e));
    let issuer = Issuer::new(ca, ca_key);

    let names: Vec<String> = SERVER_NAMES.iter().map(|s| (*s).to_owned()).collect();
    let mut leaf = CertificateParams::new(names).unwrap_or_else(|e| fail(e));
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::generate().unwrap_or_else(|e| fail(e));
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .unwrap_or_else(|e| fail(e));
    (ca_cert.pem(), leaf_cert.pem(), leaf_key.serialize_pem())
}

fn write_file(path: &Path, text: &str, mode: u32) {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    o.open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn append_file(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("append to {}: {e}", path.display()));
}

/// A SQL identifier, double-quoted (`alice@contoso.com` → `"alice@contoso.com"`).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A SQL string literal (`standard_conforming_strings` is on: only `'` needs doubling).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A value in a postgresql.conf string.
fn conf_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "''")
}

/// A libpq conninfo value: single-quoted, `\` and `'` backslash-escaped.
fn conninfo_value(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for a URL's userinfo or path.
pub fn percent_encode(s: &str) -> String {
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    utf8_percent_encode(s, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_upn_login_is_quoted_and_encoded() {
        assert_eq!(
            quote_ident("a\"b@x.com"),
            "\"a\"\"b@x.com\"",
            "a double quote inside an identifier is doubled"
        );
        assert_eq!(quote_literal("it's"), "'it''s'", "a quote is doubled");
        assert_eq!(
            percent_encode("alice@contoso.com"),
            "alice%40contoso.com",
            "@ in a URL's user part must be encoded or it ends the userinfo"
        );
        assert_eq!(
            conninfo_value("a'b\\c"),
            "'a\\'b\\\\c'",
            "conninfo escapes quote and backslash"
        );
    }
}

//! The harness against a real server: a cluster starts with TLS, a login reaches it over TCP
//! with the CA verified, the superuser stays on the socket, and dropping the cluster stops the
//! server and removes its directory.

use tsched_pgtest::Cluster;

#[test]
fn a_login_reaches_the_cluster_over_verified_tls_and_drop_removes_everything() {
    let cluster = Cluster::start();
    let dir = cluster.dir().to_path_buf();
    assert!(
        dir.join("data/PG_VERSION").is_file(),
        "initdb made a data directory"
    );

    cluster.create_login("alice@contoso.com", "s3cret 'quoted'");
    let db = cluster.create_database("team", Some("alice@contoso.com"));
    assert_eq!(db, "team", "create_database returns the name");

    let out = cluster.psql_as(
        "alice@contoso.com",
        "s3cret 'quoted'",
        "team",
        "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n\
         SELECT current_database();",
    );
    assert!(
        out.success,
        "psql_as over verify-full must work: {}",
        out.stderr
    );
    assert_eq!(
        out.stdout, "alice@contoso.com|t\nteam\n",
        "the session is alice's, encrypted, in her database"
    );

    let wrong = cluster.psql_as("alice@contoso.com", "nope", "team", "SELECT 1;");
    assert!(!wrong.success, "a wrong password must be refused");
    assert!(
        wrong.stderr.contains("password authentication failed"),
        "the server says why: {}",
        wrong.stderr
    );

    // The superuser is trusted on the private socket only, never over TCP.
    let su = cluster.psql_as("postgres", "", "postgres", "SELECT 1;");
    assert!(
        !su.success,
        "the superuser must not log in over TCP without a password"
    );

    assert_eq!(
        cluster.superuser_sql(
            "team",
            "SELECT count(*) FROM pg_roles WHERE rolname = 'alice@contoso.com';"
        ),
        "1\n",
        "superuser_sql returns unaligned rows"
    );

    // A non-TLS session is allowed by the default rules, and a TLS-only rule refuses it.
    let plain = cluster.psql_as_sslmode(
        "alice@contoso.com",
        "s3cret 'quoted'",
        "team",
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();",
        "disable",
    );
    assert!(
        plain.success,
        "host rule allows a plain session: {}",
        plain.stderr
    );
    assert_eq!(plain.stdout, "f\n", "sslmode=disable really is unencrypted");
    cluster.add_hba_rule_first("hostnossl all \"alice@contoso.com\" 127.0.0.1/32 reject");
    let refused = cluster.psql_as_sslmode(
        "alice@contoso.com",
        "s3cret 'quoted'",
        "team",
        "SELECT 1;",
        "disable",
    );
    assert!(
        !refused.success && refused.stderr.contains("no encryption"),
        "a hostnossl reject rule must refuse a plain session: {}",
        refused.stderr
    );

    let url = cluster.url("alice@contoso.com", "p@ss", "team", "verify-full");
    assert_eq!(
        url,
        format!(
            "postgres://alice%40contoso.com:p%40ss@127.0.0.1:{}/team?sslmode=verify-full",
            cluster.port()
        ),
        "the URL percent-encodes the UPN and password"
    );

    cluster.stop();
    assert!(
        !dir.exists(),
        "stop (drop) must remove the cluster's directory {}",
        dir.display()
    );
}

#[test]
fn ssl_can_be_turned_off_for_tests_of_a_server_without_tls() {
    let cluster = Cluster::start();
    cluster.create_login("bob", "pw");
    cluster.set_ssl(false);
    let out = cluster.psql_as("bob", "pw", "postgres", "SELECT 1;");
    assert!(
        !out.success,
        "verify-full against a server without TLS must fail"
    );
    let plain = cluster.psql_as_sslmode("bob", "pw", "postgres", "SELECT 1;", "disable");
    assert!(
        plain.success,
        "a plain session still works: {}",
        plain.stderr
    );
}

#[test]
fn dropping_a_cluster_stops_the_server() {
    let cluster = Cluster::start();
    let port = cluster.port();
    let dir = cluster.dir().to_path_buf();
    drop(cluster);
    assert!(!dir.exists(), "drop removes {}", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on the port after drop"
    );
}

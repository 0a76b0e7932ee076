//! Programs (with their meeting modes), participants and the directory cache: each body runs on
//! SQLite, on PostgreSQL as the database owner and on PostgreSQL as a global admin operator (a
//! login of the roster, under row-level security), and all three must give the same answers.
//! Ids are left out of the compared answers: a failed insert uses up a PostgreSQL identity value
//! but not a SQLite rowid.

use std::fmt::Debug;

use tsched_core::secret::Sensitive;
use tsched_core::store::directory_cache::CacheRow;
use tsched_core::store::page::{Page, PageError};
use tsched_core::store::postgres::{PgConfig, PgConn};
use tsched_core::store::programs::{ListQuery, ProgramRow, ProgramStamp};
use tsched_core::store::{Store, StoreError};

use crate::support;

const ADMIN: &str = "ana@contoso.example";
const ADMIN_PW: &str = "ana-pw-1";

/// A fresh PostgreSQL store whose session is a global admin operator: the owner's store is
/// made by `store init`, then the first global admin is bootstrapped and connects.
fn admin_store(pg: &support::PgStore) -> Store {
    pg.cluster.create_login(ADMIN, ADMIN_PW);
    pg.cluster.superuser_sql(
        "tsched",
        &format!("SELECT tsched.tsched_bootstrap('{ADMIN}', 'Ana');"),
    );
    let url = pg.cluster.url(ADMIN, ADMIN_PW, "tsched", "verify-full");
    let cfg = PgConfig::parse(&url)
        .expect("the harness URL parses")
        .with_ca_file(pg.cluster.ca_file());
    let pw = Sensitive::new(ADMIN_PW.to_string());
    let conn = PgConn::connect(&cfg, Some(&pw)).expect("the global admin connects");
    Store::from_postgres(conn).expect("the store opens for the admin")
}

/// Runs `test` on SQLite, PostgreSQL as its owner and PostgreSQL as a global admin; every run's
/// answer must equal SQLite's.
fn each<R: PartialEq + Debug>(test: impl Fn(&str, &mut Store) -> R) {
    let mut sqlite = Store::open_in_memory().expect("in-memory store");
    let want = test("sqlite", &mut sqlite);
    let mut owner = support::postgres_store();
    let got = test("postgres (owner)", &mut owner.store);
    assert_eq!(got, want, "postgres as owner answers as sqlite");
    let pg = support::postgres_store();
    let mut admin = admin_store(&pg);
    let got = test("postgres (global admin)", &mut admin);
    assert_eq!(got, want, "postgres as a global admin answers as sqlite");
}

type Res<T> = Result<T, StoreError>;

/// A change of program `id` decided on `version` (SQLite records `by`; PostgreSQL its login).
fn at(id: i64, version: i64) -> ProgramStamp<'static> {
    ProgramStamp {
        id,
        version,
        by: "t@x.example",
    }
}

fn insert_program(store: &mut Store, code: &str, name: &str, modes: &[(&str, bool)]) -> i64 {
    store
        .write(|tx| -> Res<i64> { tx.program_insert(code, name, "", modes) })
        .unwrap_or_else(|e| panic!("insert {code}: {e}"))
}

/// A unique violation, as each backend reports it.
fn is_unique_violation(e: &StoreError) -> bool {
    match e {
        StoreError::Pg { sqlstate, .. } => sqlstate.as_deref() == Some("23505"),
        StoreError::Sqlite { source, .. } => {
            source.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
        }
        _ => false,
    }
}

/// What a program looks like without its id and clock times.
fn shape(p: &ProgramRow) -> (String, String, String, bool, Vec<String>) {
    (
        p.code.clone(),
        p.name.clone(),
        p.description.clone(),
        p.archived,
        p.enabled_modes.clone(),
    )
}

fn names(page: &Page<ProgramRow>) -> Vec<String> {
    page.items.iter().map(|p| p.name.clone()).collect()
}

#[test]
fn directory_cache_puts_replace_and_lookups_fold_ascii_case() {
    each(|backend, store| {
        let mut row = CacheRow {
            address: "Ann@Contoso.Example".into(),
            class: "member".into(),
            matched_by: Some("upn".into()),
            object_id: Some("oid-1".into()),
            upn: Some("ann@contoso.example".into()),
            display_name: Some("Ann".into()),
            checked_at: "2027-01-01T00:00:00Z".into(),
        };
        assert_eq!(
            store
                .tables()
                .directory_get("ann@contoso.example")
                .expect("get"),
            None,
            "{backend}: nothing cached at first"
        );
        store
            .write(|tx| -> Res<()> { tx.directory_put(&row) })
            .expect("put");
        row.address = "ANN@contoso.example".into();
        row.class = "guest".into();
        row.matched_by = None;
        row.object_id = None;
        row.upn = None;
        row.display_name = None;
        row.checked_at = "2027-01-02T00:00:00Z".into();
        store
            .write(|tx| -> Res<()> { tx.directory_put(&row) })
            .expect("replace (same address, other case)");
        let got = store
            .tables()
            .directory_get("aNN@CONTOSO.example")
            .expect("get")
            .expect("cached");
        assert_eq!(got.class, "guest", "{backend}: the newer result replaces");
        assert_eq!(got.matched_by, None, "{backend}: NULLs are stored");
        // 'É' is not folded by NOCASE (ASCII only), so it is another address.
        let other = CacheRow {
            address: "émile@x.example".into(),
            class: "not_found".into(),
            matched_by: None,
            object_id: None,
            upn: None,
            display_name: None,
            checked_at: "2027-01-03T00:00:00Z".into(),
        };
        store
            .write(|tx| -> Res<()> { tx.directory_put(&other) })
            .expect("put");
        let non_ascii = store
            .tables()
            .directory_get("Émile@x.example")
            .expect("get");
        let ttl_default = store.tables().directory_ttl_hours().expect("ttl");
        store
            .write(|tx| -> Res<()> { tx.directory_set_ttl_hours(2) })
            .expect("set ttl");
        let ttl = store.tables().directory_ttl_hours().expect("ttl");
        let bad = store.write(|tx| -> Res<()> {
            tx.directory_put(&CacheRow {
                class: "friend".into(),
                ..other.clone()
            })
        });
        assert!(bad.is_err(), "{backend}: an unknown class is refused");
        (
            got,
            non_ascii,
            store
                .tables()
                .directory_get("émile@X.EXAMPLE")
                .expect("get"),
            ttl_default,
            ttl,
        )
    });
}

#[test]
fn participants_are_unique_per_program_listed_and_paged_by_email_ignoring_ascii_case() {
    each(|backend, store| {
        let p1 = insert_program(store, "one", "One", &[]);
        let p2 = insert_program(store, "two", "Two", &[]);
        let t = |store: &mut Store, p: i64, email: &str, name: &str| {
            store
                .write(|tx| -> Res<i64> { tx.participant_insert(p, email, name) })
                .unwrap_or_else(|e| panic!("{backend}: insert {email}: {e}"))
        };
        for email in [
            "b@x.example",
            "A@x.example",
            "_z@x.example",
            "Z@x.example",
            "c@x.example",
        ] {
            t(store, p1, email, "N");
        }
        t(store, p2, "a@x.example", "In two");
        let dup = store
            .write(|tx| -> Res<i64> { tx.participant_insert(p1, "a@X.EXAMPLE", "again") })
            .expect_err("the same email in other case is a duplicate");
        assert!(
            is_unique_violation(&dup),
            "{backend}: a unique violation: {dup:?}"
        );
        let tables = store.tables();
        let by = |p: i64, e: &str| {
            tables
                .participant_by_email(p, e)
                .expect("by email")
                .map(|r| (r.email, r.display_name))
        };
        let lookups = (
            by(p1, "B@X.Example"),
            by(p2, "A@x.example"),
            by(p1, "nobody@x.example"),
            by(p2, "b@x.example"),
        );
        let all: Vec<String> = tables
            .participants(p1)
            .expect("all")
            .into_iter()
            .map(|r| r.email)
            .collect();
        assert_eq!(
            all,
            [
                "_z@x.example",
                "A@x.example",
                "b@x.example",
                "c@x.example",
                "Z@x.example"
            ],
            "{backend}: by email, ASCII case folded ('_' sorts before letters)"
        );
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = tables
                .participants_page(p1, after.as_deref(), 2)
                .expect("page");
            pages.push((
                page.items
                    .iter()
                    .map(|r| r.email.clone())
                    .collect::<Vec<_>>(),
                page.next_cursor.clone(),
            ));
            match page.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(pages.len(), 3, "{backend}: 5 rows in pages of 2");
        let flat: Vec<String> = pages.iter().flat_map(|(e, _)| e.clone()).collect();
        assert_eq!(flat, all, "{backend}: the pages add up to the list");
        let bad = tables.participants_page(p1, Some("nonsense"), 2);
        assert!(
            matches!(bad, Err(PageError::BadCursor(_))),
            "{backend}: a bad cursor is refused"
        );
        let empty = tables.participants_page(999, None, 0).expect("page");
        let counts = (
            tables.participants_count(p1).expect("count"),
            tables.participants_count(p2).expect("count"),
            tables.participants_count(999).expect("count"),
        );
        let deleted = store
            .write(|tx| -> Res<(usize, usize)> {
                Ok((
                    tx.participant_delete(p1, "z@X.EXAMPLE")?,
                    tx.participant_delete(p1, "z@x.example")?,
                ))
            })
            .expect("delete");
        let after_delete = (
            store.tables().participants_count(p1).expect("count"),
            store.tables().participants_count(p2).expect("count"),
        );
        (
            lookups,
            pages,
            empty.items.len(),
            empty.next_cursor,
            counts,
            deleted,
            after_delete,
        )
    });
}

#[test]
fn programs_are_inserted_found_changed_and_refuse_duplicates() {
    each(|backend, store| {
        let t = store.tables();
        let before = (
            t.programs_any().expect("any"),
            t.programs_count().expect("count"),
        );
        let id = insert_program(
            store,
            "eng",
            "Engineering",
            &[("video", true), ("in_person", false), ("audio", true)],
        );
        insert_program(store, "ops", "Operations", &[]);
        let t = store.tables();
        let found = t.program_by_code("ENG").expect("by code").expect("found");
        assert_eq!(found.id, id, "{backend}: the id returned");
        assert_eq!(
            found.created_at, found.updated_at,
            "{backend}: created and updated at once"
        );
        let by_name = t
            .program_by_name("engineering")
            .expect("by name")
            .map(|p| shape(&p));
        let missing = (
            t.program_by_code("nope").expect("by code"),
            t.program_by_name("Nope").expect("by name"),
            t.program_by_name("Engineering ").expect("by name"),
        );
        let first = shape(&found);
        for (code, name) in [("ENG", "Other"), ("new", "OPERATIONS")] {
            let e = store
                .write(|tx| -> Res<i64> { tx.program_insert(code, name, "", &[]) })
                .expect_err("a duplicate code or name is refused");
            assert!(
                is_unique_violation(&e),
                "{backend}: {code}/{name} is a unique violation: {e:?}"
            );
        }
        let renamed_onto = store
            .write(|tx| -> Res<usize> { tx.program_update_details(at(id, 1), "operations", "x") })
            .expect_err("renaming onto another program's name is refused");
        assert!(is_unique_violation(&renamed_onto), "{backend}: unique");
        let changed = store
            .write(|tx| -> Res<(usize, usize, usize, usize, usize, usize)> {
                Ok((
                    tx.program_update_details(at(id, 1), "Engineering Guild", "Builders")?,
                    tx.program_update_details(at(999, 1), "Ghost", "")?,
                    tx.program_set_archived(at(id, 2), true)?,
                    tx.program_set_archived(at(999, 1), true)?,
                    tx.program_update_details(at(id, 1), "Stale", "")?,
                    tx.program_set_archived(at(id, 2), false)?,
                ))
            })
            .expect("update");
        let modes = store
            .write(|tx| -> Res<[usize; 5]> {
                Ok([
                    tx.program_set_mode(at(id, 3), "video", false)?,
                    tx.program_set_mode(at(id, 4), "in_person", true)?,
                    tx.program_set_mode(at(id, 5), "chat", true)?,
                    tx.program_set_mode(at(id, 6), "audio", true)?,
                    tx.program_set_mode(at(id, 3), "ghost", true)?,
                ])
            })
            .expect("modes");
        assert_eq!(
            modes,
            [1, 1, 1, 1, 0],
            "{backend}: each mode change bumps the version; one on a stale version writes nothing"
        );
        let no_program = store
            .write(|tx| -> Res<usize> { tx.program_set_mode(at(999, 1), "video", true) })
            .expect("a mode of a missing program is no error");
        assert_eq!(no_program, 0, "{backend}: and changes nothing");
        let t = store.tables();
        let after = t.program_by_code("eng").expect("by code").expect("found");
        assert!(
            after.updated_at >= found.updated_at,
            "{backend}: updated_at moves forward"
        );
        assert_eq!(
            (found.version, after.version),
            (1, 7),
            "{backend}: created at version 1, then one version per change that applied"
        );
        assert!(
            after.updated_by.is_some(),
            "{backend}: the last change names who made it"
        );
        (
            before,
            first,
            by_name,
            missing,
            changed,
            shape(&after),
            t.program_by_name("ENGINEERING GUILD")
                .expect("by name")
                .map(|p| p.code),
            (
                t.programs_any().expect("any"),
                t.programs_count().expect("count"),
            ),
        )
    });
}

/// Programs whose names sort differently with and without NOCASE: 'A' < '_' < 'a' in binary,
/// '_' < 'a' once ASCII is folded; 'É' and 'á' are not folded ('É' < 'á').
const PROGRAMS: &[(&str, &str, bool)] = &[
    ("beta", "beta", false),
    ("alpha", "Alpha", false),
    ("under", "_under", false),
    ("zulu", "Zulu", false),
    ("ambar", "ámbar", false),
    ("emile", "Émile", false),
    ("delta", "delta", true),
    ("charlie", "Charlie", true),
    ("pct", "Club 100%", false),
    ("thousand", "Club 1000", false),
];

fn seed(store: &mut Store) {
    for (code, name, archived) in PROGRAMS {
        let id = insert_program(store, code, name, &[("video", true)]);
        if *archived {
            store
                .write(|tx| -> Res<usize> { tx.program_set_archived(at(id, 1), true) })
                .expect("archive");
        }
    }
}

/// Every page of `q` (its cursor followed), as (names, next cursor) per page.
fn walk(store: &Store, mut q: ListQuery) -> Vec<(Vec<String>, Option<String>)> {
    let mut pages = Vec::new();
    loop {
        let page = store.tables().programs_page(&q).expect("page");
        pages.push((names(&page), page.next_cursor.clone()));
        match page.next_cursor {
            Some(c) => q.after = Some(c),
            None => return pages,
        }
    }
}

#[test]
fn program_pages_order_active_first_by_name_ignoring_ascii_case() {
    each(|backend, store| {
        seed(store);
        let all = walk(
            store,
            ListQuery {
                include_archived: true,
                limit: 3,
                ..Default::default()
            },
        );
        let flat: Vec<String> = all.iter().flat_map(|(n, _)| n.clone()).collect();
        assert_eq!(
            flat,
            [
                "_under",
                "Alpha",
                "beta",
                "Club 100%",
                "Club 1000",
                "Zulu",
                "Émile",
                "ámbar",
                "Charlie",
                "delta"
            ],
            "{backend}: active first, then by name with ASCII case folded"
        );
        assert_eq!(all.len(), 4, "{backend}: 10 rows in pages of 3");
        let active = walk(
            store,
            ListQuery {
                limit: 4,
                ..Default::default()
            },
        );
        let one_page = store
            .tables()
            .programs_page(&ListQuery::default())
            .expect("default page");
        // A cursor handed out before a rename still means "after this name".
        let first = store
            .tables()
            .programs_page(&ListQuery {
                limit: 2,
                ..Default::default()
            })
            .expect("page");
        insert_program(store, "aa", "AARDVARK", &[]);
        insert_program(store, "bz", "Beta Z", &[]);
        let next = store
            .tables()
            .programs_page(&ListQuery {
                limit: 2,
                after: first.next_cursor.clone(),
                ..Default::default()
            })
            .expect("page");
        let bad: Vec<bool> = [
            "garbage".to_string(),
            first.next_cursor.clone().unwrap_or_default()[..4].to_string(),
        ]
        .iter()
        .map(|c| {
            matches!(
                store.tables().programs_page(&ListQuery {
                    after: Some(c.clone()),
                    ..Default::default()
                }),
                Err(PageError::BadCursor(_))
            )
        })
        .collect();
        let participants_cursor = store
            .tables()
            .participants_page(1, None, 1)
            .expect("participants")
            .next_cursor;
        assert_eq!(participants_cursor, None, "{backend}: none yet");
        (
            all,
            active,
            names(&one_page),
            one_page.next_cursor,
            names(&first),
            names(&next),
            bad,
        )
    });
}

#[test]
fn program_search_short_terms_match_the_start_long_ones_anywhere() {
    each(|backend, store| {
        seed(store);
        let search = |term: &str, archived: bool, limit: u32| {
            walk(
                store,
                ListQuery {
                    search: Some(term.to_string()),
                    include_archived: archived,
                    limit,
                    ..Default::default()
                },
            )
        };
        let flat = |term: &str| -> Vec<String> {
            search(term, true, 0)
                .into_iter()
                .flat_map(|(n, _)| n)
                .collect()
        };
        let checks: Vec<(&str, Vec<&str>)> = vec![
            ("a", vec!["Alpha", "ámbar"]),
            (" AL ", vec!["Alpha"]),
            ("C", vec!["Club 100%", "Club 1000", "Charlie"]),
            ("É", vec!["Émile"]),
            ("é", vec![]),
            ("_", vec!["_under"]),
            ("%", vec![]),
            ("zq", vec![]),
            ("ÉMI", vec!["Émile"]),
            ("émi", vec!["Émile"]),
            ("MBA", vec!["ámbar"]),
            ("lph", vec!["Alpha"]),
            ("100%", vec!["Club 100%"]),
            ("_un", vec!["_under"]),
            ("b 1", vec!["Club 100%", "Club 1000"]),
            ("1_0", vec![]),
            ("ARLI", vec!["Charlie"]),
            ("ELT", vec!["delta"]),
            (r#"a"b"#, vec![]),
            ("x* OR y", vec![]),
            ("'; --", vec![]),
        ];
        for (term, want) in &checks {
            assert_eq!(&flat(term), want, "{backend}: search {term:?}");
        }
        let active_only = search("ELT", false, 0);
        let paged = search("c", true, 1);
        let only = |codes: &[&str], term: Option<&str>, archived: bool| {
            walk(
                store,
                ListQuery {
                    search: term.map(str::to_string),
                    include_archived: archived,
                    only_codes: Some(codes.iter().map(|c| c.to_string()).collect()),
                    limit: 1,
                    ..Default::default()
                },
            )
        };
        (
            active_only,
            paged,
            only(&["ZULU", "alpha", "missing", "DELTA"], None, false),
            only(&["ZULU", "alpha", "missing", "DELTA"], None, true),
            only(&["pct", "Thousand", "beta"], Some("CLUB"), true),
            only(&["pct", "thousand"], Some("cl"), true),
            only(&[], None, true),
        )
    });
}

/// PostgreSQL only: `tsched_program_search` answers a page either by walking the list's index
/// (while a window of rows holds a page) or through the trigram indexes. Forced each way by
/// the window (0: trigram indexes at once; 1 and 2: the walk, then the indexes; 10 and 1000:
/// the capped read of every match first, at most 5 or `5 × limit` of them, then the walk),
/// every page must be the first `limit` of all matches after the cursor in list
/// order: the function's answer without a limit (every match), sorted and cut here.
#[test]
fn program_search_pages_match_whether_the_walk_or_the_trigram_indexes_answer() {
    let mut pg = support::postgres_store();
    seed(&mut pg.store);
    let wrong = pg.cluster.superuser_sql(
        "tsched",
        "WITH t(term) AS (VALUES ('club'), ('lph'), ('ÉMI'), ('b 1'), ('100%'), ('elt'),
                                 ('zzz'), ('a'), ('ar')),
              w(win) AS (VALUES (0), (1), (2), (10), (1000)),
              l(lim) AS (VALUES (1), (2), (3), (11)),
              c(aa, an) AS (VALUES (NULL::boolean, NULL::text), (false, 'b'), (true, 'a')),
              x(arch) AS (VALUES (true), (false)),
              each AS (
                SELECT t.term, w.win, l.lim, c.aa, c.an, x.arch,
                    ARRAY(SELECT p.id FROM tsched.programs p
                          WHERE p.id IN (SELECT tsched.tsched_program_search(t.term))
                            AND (x.arch OR NOT p.archived)
                            AND (c.an IS NULL OR (p.archived, p.name_key) > (c.aa, c.an))
                          ORDER BY p.archived, p.name_key LIMIT l.lim) AS want,
                    ARRAY(SELECT p.id FROM tsched.programs p
                          WHERE p.id = ANY (ARRAY(SELECT tsched.tsched_program_search(
                              t.term, x.arch, c.aa, c.an, NULL, l.lim, w.win)))
                          ORDER BY p.archived, p.name_key) AS got
                FROM t, w, l, c, x)
         SELECT coalesce(string_agg(format('%s win %s lim %s after %s/%s archived %s: %s not %s',
                    term, win, lim, aa, an, arch, got, want), '; '), '')
         FROM each WHERE got IS DISTINCT FROM want;",
    );
    assert_eq!(
        wrong.trim(),
        "",
        "a page must not depend on which way the function found it"
    );
}

/// A session of `login` (made a track admin of `eng` by the global admin) on `pg`.
fn track_admin_store(pg: &support::PgStore, login: &str, pw: &str) -> Store {
    let out = pg.cluster.psql_as(
        ADMIN,
        ADMIN_PW,
        "tsched",
        &format!(
            "SELECT tsched.tsched_operator_add('{login}', 'Track Admin');
             SELECT tsched.tsched_role_grant('{login}', 'track_admin', 'ENG');"
        ),
    );
    assert!(
        out.success,
        "the admin adds the track admin: {}",
        out.stderr
    );
    pg.cluster.superuser_sql(
        "postgres",
        &format!("ALTER ROLE \"{login}\" PASSWORD '{pw}';"),
    );
    let url = pg.cluster.url(login, pw, "tsched", "verify-full");
    let cfg = PgConfig::parse(&url)
        .expect("the harness URL parses")
        .with_ca_file(pg.cluster.ca_file());
    let conn = PgConn::connect(&cfg, Some(&Sensitive::new(pw.to_string())))
        .expect("the track admin connects");
    Store::from_postgres(conn).expect("the store opens for the track admin")
}

/// PostgreSQL only (SQLite has no sessions): row-level security narrows every read of these
/// tables to the programs a track admin may view, the search function included, and the
/// statements a track admin may run (details, modes, participants) work through their grants.
#[test]
fn a_track_admin_sees_and_edits_only_their_program_on_postgres() {
    let pg = support::postgres_store();
    let mut admin = admin_store(&pg);
    let eng = insert_program(&mut admin, "eng", "Engineering", &[("video", true)]);
    let ops = insert_program(&mut admin, "ops", "Engineering Ops", &[("video", true)]);
    for p in [eng, ops] {
        admin
            .write(|tx| -> Res<i64> { tx.participant_insert(p, "ann@x.example", "Ann") })
            .expect("participant");
    }
    let mut ta = track_admin_store(&pg, "ta@x.example", "ta-pw-1");
    let t = ta.tables();
    let visible = |q: ListQuery| -> Vec<String> {
        t.programs_page(&q)
            .expect("page")
            .items
            .into_iter()
            .map(|p| p.code)
            .collect()
    };
    assert_eq!(
        visible(ListQuery::default()),
        ["eng"],
        "the list: their program"
    );
    for term in ["engin", "EN", "ops"] {
        let codes = visible(ListQuery {
            search: Some(term.into()),
            ..Default::default()
        });
        let want: &[&str] = if term == "ops" { &[] } else { &["eng"] };
        assert_eq!(codes, want, "search {term:?}: only what they may view");
    }
    assert_eq!(
        t.program_by_code("ops").expect("by code"),
        None,
        "ops hidden"
    );
    assert_eq!(
        t.programs_count().expect("count"),
        1,
        "counts what they see"
    );
    assert!(t.participants(ops).expect("list").is_empty(), "ops' hidden");
    assert_eq!(t.participants_count(eng).expect("count"), 1, "eng's shown");
    ta.write(|tx| -> Res<()> {
        assert_eq!(
            tx.program_update_details(at(eng, 1), "Engineering Guild", "d")?,
            1
        );
        assert_eq!(tx.program_set_mode(at(eng, 2), "chat", true)?, 1);
        tx.participant_insert(eng, "Bo@x.example", "Bo")?;
        assert_eq!(tx.participant_delete(eng, "ANN@x.example")?, 1);
        Ok(())
    })
    .expect("a track admin edits their program");
    let p = ta
        .tables()
        .program_by_code("ENG")
        .expect("by code")
        .expect("eng");
    assert_eq!(
        (p.name.as_str(), p.enabled_modes.clone()),
        (
            "Engineering Guild",
            vec!["chat".to_string(), "video".to_string()]
        )
    );
    let refused = [
        ta.write(|tx| -> Res<()> { tx.program_set_archived(at(eng, 3), true).map(|_| ()) }),
        ta.write(|tx| -> Res<()> { tx.participant_insert(ops, "c@x.example", "").map(|_| ()) }),
        ta.write(|tx| -> Res<()> { tx.program_insert("new", "New", "", &[]).map(|_| ()) }),
    ];
    for (i, r) in refused.iter().enumerate() {
        assert!(r.is_err(), "refused #{i}: {r:?}");
    }
    let changed = ta.write(|tx| -> Res<(usize, usize)> {
        Ok((
            tx.program_update_details(at(ops, 1), "Renamed", "")?,
            tx.participant_delete(ops, "ann@x.example")?,
        ))
    });
    assert_eq!(
        changed.expect("invisible rows are not matched"),
        (0, 0),
        "another program's rows are out of reach"
    );
}

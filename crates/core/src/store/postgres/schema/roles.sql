-- Who may do what in the team store, enforced by PostgreSQL itself: the matrix of
-- crates/core/src/access.rs (`decide`) as group roles, GRANTs and row-level security, so a raw
-- psql session gets no more than the app would give. docs/TEAM-STORE.md explains the model.
--
-- Run once by the database owner at `tsched store init`, right after v1.sql and in the same
-- transaction. The owner needs CREATEROLE (it creates the group roles and, through the roster
-- functions below, the operators' logins). The owner is the maintenance role: nobody works as
-- it day to day, and it is not an operator.
--
-- Who is asking: `session_user`, the login the connection authenticated as. The roster functions
-- are SECURITY DEFINER (they must create logins and change memberships, which operators may
-- not), and inside them current_user is their owner while session_user is still the caller;
-- only a superuser can change session_user (SET SESSION AUTHORIZATION). An operator's login is
-- `operators.login` (the UPN, ASCII letters lower-cased), a quoted identifier such as
-- "ana@contoso.com".
--
-- Two layers, both required for any access:
-- 1. GRANTs to group roles say which statements a role may run on which tables (and columns):
--    tsched_operator (every operator: read, audit rows, the directory cache), tsched_support
--    (nothing more: reads come from the policies), tsched_track_admin (program settings and
--    participants), tsched_coordinator (meetings and batches), tsched_global_admin (everything
--    but the roster tables and the audit trail's history).
-- 2. Row-level security (ENABLE + FORCE on every table) says which rows: each policy asks the
--    helper functions below whether the session's operator holds the role for that row's
--    program, reading `operators` and `operator_roles` (the one source of truth; group
--    membership only opens the statements).

SET search_path = tsched, public;

DO $checks$
BEGIN
    IF to_regclass('tsched.tsched_meta') IS NULL THEN
        RAISE EXCEPTION 'run v1.sql first: schema tsched has no tsched_meta';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'tsched') THEN
        RAISE EXCEPTION 'the roles of this store are already installed; init refuses to run twice'
            USING ERRCODE = 'duplicate_object';
    END IF;
    IF NOT (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'the database owner (%) needs CREATEROLE to create the group roles and the operators'' logins', current_user
            USING HINT = 'as a superuser: ALTER ROLE ... CREATEROLE';
    END IF;
    IF (SELECT datdba FROM pg_database WHERE datname = current_database())
        <> (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'run init as the owner of database % (it revokes CONNECT from PUBLIC)', current_database();
    END IF;
END
$checks$;

-- The group roles are cluster-wide: a second store on the same cluster reuses them (memberships
-- are per login, which is per cluster too; see docs/TEAM-STORE.md). They never log in, and an
-- existing role of the same name that could is refused rather than reused.
DO $groups$
DECLARE
    g text;
BEGIN
    FOREACH g IN ARRAY ARRAY['tsched_operator', 'tsched_global_admin', 'tsched_track_admin',
                             'tsched_support', 'tsched_coordinator'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', g);
        ELSIF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g
                      AND (rolcanlogin OR rolsuper OR rolcreaterole OR rolcreatedb
                           OR rolreplication OR rolbypassrls)) THEN
            RAISE EXCEPTION 'role % exists and is not a plain NOLOGIN group; refusing to reuse it', g;
        END IF;
    END LOOP;
END
$groups$;

-- Only operators connect; nobody creates temporary objects (they could shadow names).
DO $db$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO tsched_operator', current_database());
END
$db$;
GRANT USAGE ON SCHEMA tsched TO tsched_operator;

-- ---------------------------------------------------------------------------------------------
-- Helpers the policies call. SECURITY DEFINER so they read the roster whatever the caller may
-- see of it; STABLE (one answer per statement); a fixed search_path with pg_temp last, so no
-- object the caller creates can stand in for ours.

-- The active operator this session is, or NULL.
CREATE FUNCTION tsched_me() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT id FROM operators WHERE login = session_user AND active
$$;

CREATE FUNCTION tsched_is_operator() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM operators WHERE login = session_user AND active)
$$;

-- Whether this session's active operator holds `p_role` (for a per-program role: on program
-- `p_program`; a global role holds for every program).
CREATE FUNCTION tsched_has_role(p_role text, p_program bigint DEFAULT NULL) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM operators o JOIN operator_roles r ON r.operator_id = o.id
        WHERE o.login = session_user AND o.active AND r.role = p_role
          AND (r.program_id IS NULL OR r.program_id = p_program))
$$;

-- The same by program code (case-insensitive), for rows that name programs by code: the audit
-- trail and batches.
CREATE FUNCTION tsched_has_role_code(p_role text, p_code text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM operators o JOIN operator_roles r ON r.operator_id = o.id
        LEFT JOIN programs p ON p.id = r.program_id
        WHERE o.login = session_user AND o.active AND r.role = p_role
          AND (r.program_id IS NULL OR p.code_key = lower(p_code COLLATE "C")))
$$;

CREATE FUNCTION tsched_is_global_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT tsched_has_role('global_admin')
$$;

-- What a read policy asks once per statement, not once per row. A policy calls them inside a
-- scalar subquery, `(SELECT tsched_sees_all())`, which PostgreSQL evaluates once, before the
-- scan (an InitPlan); a per-row call of a SECURITY DEFINER function (never inlined) costs a
-- roster lookup for every row a page's plan reads, which made a page of 100 meetings read by a
-- global admin take 100 ms and more (store_scale bench).

-- Whether this session's active operator reads every program: global admin or support.
CREATE FUNCTION tsched_sees_all() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM operators o JOIN operator_roles r ON r.operator_id = o.id
        WHERE o.login = session_user AND o.active AND r.role IN ('global_admin', 'support'))
$$;

-- The programs this session's active operator views through a per-program role (track admin,
-- coordinator).
CREATE FUNCTION tsched_view_programs() RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT coalesce(array_agg(DISTINCT r.program_id), '{}')
    FROM operators o JOIN operator_roles r ON r.operator_id = o.id
    WHERE o.login = session_user AND o.active AND r.role IN ('track_admin', 'coordinator')
      AND r.program_id IS NOT NULL
$$;

-- Action::ViewProgram: global admin, support, and track admin or coordinator of the program.
CREATE FUNCTION tsched_may_view(p_program bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM operators o JOIN operator_roles r ON r.operator_id = o.id
        WHERE o.login = session_user AND o.active
          AND (r.role IN ('global_admin', 'support')
               OR (r.role IN ('track_admin', 'coordinator') AND r.program_id = p_program)))
$$;

-- Action::ProgramEdit / ModeToggle / ParticipantsEdit: global admin, track admin of the program.
CREATE FUNCTION tsched_may_edit(p_program bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT tsched_has_role('global_admin') OR tsched_has_role('track_admin', p_program)
$$;

-- Action::MeetingsManage: global admin, coordinator of the program.
CREATE FUNCTION tsched_may_schedule(p_program bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT tsched_has_role('global_admin') OR tsched_has_role('coordinator', p_program)
$$;

-- The program of a meeting (for the attendees' policies), NULL unless this session may view
-- it: callable by every operator, it must not tell anyone more than the meetings table would.
CREATE FUNCTION tsched_meeting_program(p_meeting bigint) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT program_id FROM meetings WHERE id = p_meeting AND tsched_may_view(program_id)
$$;

-- Action::BatchesManage on every program of a batch (`programs`: codes, space-separated), as
-- `batch::run::history` requires; a batch naming no program is a global admin's.
CREATE FUNCTION tsched_may_manage_batch(p_programs text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT tsched_has_role('global_admin')
        OR (EXISTS (SELECT 1 FROM unnest(string_to_array(p_programs, ' ')) c WHERE c <> '')
            AND NOT EXISTS (
                SELECT 1 FROM unnest(string_to_array(p_programs, ' ')) c
                WHERE c <> '' AND NOT tsched_has_role_code('coordinator', c)))
$$;

-- Reading a batch: who may manage it, and support (reads everything).
CREATE FUNCTION tsched_may_view_batch(p_programs text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT tsched_has_role('support') OR tsched_may_manage_batch(p_programs)
$$;

-- The programs of a batch (for the items' and counts' policies), NULL unless this session may
-- see the batch, for the same reason.
CREATE FUNCTION tsched_batch_programs(p_batch bigint) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT programs FROM batches WHERE id = p_batch AND tsched_may_view_batch(programs)
$$;

-- Action::AuditView on a row's program: global admin and support every row, a track admin the
-- rows of their programs.
CREATE FUNCTION tsched_may_read_audit(p_code text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
    SELECT tsched_has_role('global_admin') OR tsched_has_role('support')
        OR (p_code IS NOT NULL AND tsched_has_role_code('track_admin', p_code))
$$;

-- Program search (three characters or more, anywhere in name or code, any letter case): the ids
-- of the matching programs this session may view. A function because LIKE is not leakproof:
-- in a query on the table, row-level security would keep the trigram indexes from answering it.
-- Runs as the owner, whose policy sees every row, and filters by what the caller may view
-- itself: every program for the owner's own login and a login that bypasses row-level security
-- (as their policies would show them), tsched_sees_all / tsched_view_programs for an operator.
--
-- With a limit it answers one page of the list: after the cursor (`p_after_archived`,
-- `p_after_name`: the last row's archived flag and name_key; NULL from the start), active only
-- unless `p_with_archived`, within `p_codes` if given, the first `p_limit` in list order
-- (archived, name_key). Two ways to it (store_scale bench, issue 19): a term most programs
-- contain ('ing') is quickest by walking programs_archived_name in order and testing each row
-- until the page is full; a rare one ('04217', or 'women', whose matches all sort last) by the
-- trigram indexes, sorting what they found. First the trigram indexes (or a scan, as the
-- planner likes) are asked for at most five pages of matches (at most half the window): fewer
-- than that are every match, sorted and cut here ('women': 450 matches, the walk over 1,000
-- rows found none of them). Otherwise the walk, over at most `p_window` rows; only when those
-- hold less than a page do the trigram indexes answer in full (the term is then rare near the
-- cursor, so they find few rows to sort, typically). An operator who views a few
-- programs only, a page limited to given codes and a call without a limit (every match) test
-- just those rows or use the trigram indexes directly.
CREATE FUNCTION tsched_program_search(p_term text, p_with_archived boolean DEFAULT true,
    p_after_archived boolean DEFAULT NULL, p_after_name text DEFAULT NULL,
    p_codes text[] DEFAULT NULL, p_limit integer DEFAULT NULL, p_window integer DEFAULT 1000)
RETURNS SETOF bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = tsched, public, pg_temp AS $fn$
DECLARE
    v_pattern text := '%' || replace(replace(replace(lower(p_term COLLATE "und-x-icu"),
        '\', '\\'), '%', '\%'), '_', '\_') || '%';
    v_match constant text := '(p.name_fold LIKE $1 OR p.code_fold LIKE $1)';
    v_where text := '';
    v_mine bigint[];
    v_ids bigint[] := '{}';
    v_read integer := 0;
    v_cap integer;
BEGIN
    IF NOT (session_user = current_user OR tsched_sees_all()
            OR EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = session_user
                       AND (r.rolsuper OR r.rolbypassrls))) THEN
        v_mine := tsched_view_programs();
        v_where := ' AND p.id = ANY ($5)';
    END IF;
    IF NOT p_with_archived THEN
        v_where := v_where || ' AND NOT p.archived';
    END IF;
    IF p_after_name IS NOT NULL THEN
        v_where := v_where || ' AND (p.archived, p.name_key) > ($2, $3)';
    END IF;
    IF p_codes IS NOT NULL THEN
        v_where := v_where || ' AND p.code_key = ANY ($4)';
    END IF;
    IF p_limit IS NOT NULL AND v_mine IS NULL AND p_codes IS NULL THEN
        -- Few matches: all of them, unordered, then sorted ($5 is the cap here).
        v_cap := least(5 * p_limit, p_window / 2);
        IF v_cap > 0 THEN
            EXECUTE 'SELECT count(*), coalesce((array_agg(s.id ORDER BY s.archived, s.name_key))[1:$6],
                    ''{}'')
                FROM (SELECT p.id, p.archived, p.name_key FROM programs p
                      WHERE ' || v_match || v_where || ' LIMIT $5) s'
                INTO v_read, v_ids
                USING v_pattern, p_after_archived, p_after_name, p_codes, v_cap, p_limit;
            IF v_read < v_cap THEN
                RETURN QUERY SELECT unnest(v_ids);
                RETURN;
            END IF;
        END IF;
        -- The walk: the matches among the next `p_window` rows in list order, stopping at a
        -- page of them; row `p_window` comes along too, to tell "the window ran out" from
        -- "the list did". (One statement: a PL/pgSQL loop over the rows cost ~2 µs a row.)
        EXECUTE 'SELECT coalesce(array_agg(w.id) FILTER (WHERE w.hit), ''{}''), max(w.n)
            FROM (SELECT r.id, r.hit, r.n FROM (
                    SELECT p.id, ' || v_match || ' AS hit,
                        row_number() OVER (ORDER BY p.archived, p.name_key) AS n
                    FROM programs p WHERE true' || v_where || '
                    ORDER BY p.archived, p.name_key LIMIT $5) r
                  WHERE r.hit OR r.n = $5 LIMIT $6) w'
            INTO v_ids, v_read
            USING v_pattern, p_after_archived, p_after_name, p_codes, p_window, p_limit;
        IF cardinality(v_ids) >= p_limit OR coalesce(v_read, 0) < p_window THEN
            RETURN QUERY SELECT unnest(v_ids);
            RETURN;
        END IF;
    END IF;
    -- OFFSET 0 keeps the filter below the sort: the matches first (trigram indexes, or the few
    -- programs the filters name), then their order.
    RETURN QUERY EXECUTE 'SELECT s.id FROM (SELECT p.id, p.archived, p.name_key FROM programs p
            WHERE ' || v_match || v_where || ' OFFSET 0) s
        ORDER BY s.archived, s.name_key LIMIT $6'
        USING v_pattern, p_after_archived, p_after_name, p_codes, v_mine, p_limit;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- The audit trail: the server writes who and when; nobody rewrites history.

-- `operator` is the login that wrote the row, whatever the client sent (the login is proven by
-- the connection, so `real_actor`, SQLite's "who really acted behind an impersonation", is
-- always NULL here); `at` is the server's clock, so a workstation's clock cannot reorder it.
CREATE FUNCTION tsched_audit_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = tsched, pg_temp AS $$
DECLARE
    v_for text := nullif(current_setting('tsched.acting_for', true), '');
BEGIN
    NEW.at := to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    -- The host agent carries out a job in its requester's name (issue 20): the row names the
    -- requester and `real_actor` the agent's login, but only while this very login holds a
    -- claim on a job of that requester (a claim only a global admin can take); anything else
    -- is stamped with the login as always.
    IF v_for IS NOT NULL AND EXISTS (
        SELECT 1 FROM work_queue q
        WHERE q.state = 'claimed' AND q.claimed_login = session_user AND q.requested_by = v_for)
    THEN
        NEW.operator := v_for;
        NEW.real_actor := session_user;
    ELSE
        NEW.operator := session_user;
        NEW.real_actor := NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_stamp BEFORE INSERT ON audit_log
FOR EACH ROW EXECUTE FUNCTION tsched_audit_stamp();

-- The host agent's queue: who asked and when are the server's; a new job is queued and
-- unclaimed whatever the client sent (a workstation cannot enqueue in another's name, nor
-- enqueue a job already "done").
CREATE FUNCTION tsched_queue_stamp() RETURNS trigger
LANGUAGE plpgsql SET search_path = tsched, pg_temp AS $$
BEGIN
    NEW.requested_by := session_user;
    NEW.requested_at := statement_timestamp();
    NEW.state := 'queued';
    NEW.claimed_by := NULL;
    NEW.claimed_login := NULL;
    NEW.claimed_at := NULL;
    NEW.claim_until := NULL;
    NEW.attempts := 0;
    NEW.result := NULL;
    NEW.error := NULL;
    NEW.finished_at := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER work_queue_stamp BEFORE INSERT ON work_queue
FOR EACH ROW EXECUTE FUNCTION tsched_queue_stamp();

-- Beside the missing privileges: the owner keeps the power to GRANT itself UPDATE, so a
-- trigger refuses too (an owner who drops it leaves a trace in the DDL log, not in silence).
CREATE FUNCTION tsched_audit_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = tsched, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION tsched_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION tsched_audit_append_only();

-- ---------------------------------------------------------------------------------------------
-- The last active global admin stays: a store nobody can administer is unrecoverable without
-- the database owner. Constraint triggers, checked at the end of every statement that changes
-- the roster, so a cascade (removing an operator takes their roles) is judged on its result. A
-- hand-over needs no deferral: the new admin is granted first, then the old one revoked.

CREATE FUNCTION tsched_keep_a_global_admin() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM operators o JOIN operator_roles r ON r.operator_id = o.id
        WHERE o.active AND r.role = 'global_admin') THEN
        RAISE EXCEPTION 'the last active global admin cannot be revoked, deactivated or removed'
            USING ERRCODE = 'check_violation',
                  HINT = 'grant global admin to another operator first';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER operators_keep_a_global_admin
AFTER UPDATE OF active OR DELETE ON operators
FOR EACH ROW EXECUTE FUNCTION tsched_keep_a_global_admin();
CREATE CONSTRAINT TRIGGER operator_roles_keep_a_global_admin
AFTER UPDATE OR DELETE ON operator_roles
FOR EACH ROW EXECUTE FUNCTION tsched_keep_a_global_admin();

-- ---------------------------------------------------------------------------------------------
-- The roster: changed only through these functions (nobody holds INSERT/UPDATE/DELETE on
-- `operators` or `operator_roles`), because each change must also change the login: its LOGIN
-- attribute and its membership in the group roles. Executable by global admins only (GRANT,
-- and checked again inside: a stale membership must not be enough).

CREATE FUNCTION tsched_require_global_admin() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
BEGIN
    IF NOT tsched_is_global_admin() THEN
        RAISE EXCEPTION '% may not manage operators; only a global admin may', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- Makes sure `p_login` exists and may log in. An existing role is adopted only when it is a
-- plain login: the roster functions must never be a way to change a superuser, the owner, a
-- group or any role with powers of its own (deactivating would lock it out).
CREATE FUNCTION tsched_ensure_login(p_login text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    r pg_roles%ROWTYPE;
BEGIN
    SELECT * INTO r FROM pg_roles WHERE rolname = p_login;
    IF NOT FOUND THEN
        EXECUTE format('CREATE ROLE %I LOGIN', p_login);
        RETURN;
    END IF;
    IF r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls
        OR r.rolname = current_user OR r.rolname LIKE 'tsched\_%'
        OR r.rolname LIKE 'pg\_%'
        OR EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                   WHERE m.member = r.oid AND g.rolname NOT LIKE 'tsched\_%') THEN
        RAISE EXCEPTION 'role % exists with powers of its own (or is a group); it cannot be an operator''s login', p_login
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN INHERIT', p_login);
END
$$;

-- The group role of a stored role name.
CREATE FUNCTION tsched_group_of(p_role text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = tsched, pg_temp AS $$
    SELECT CASE p_role
        WHEN 'global_admin' THEN 'tsched_global_admin'
        WHEN 'track_admin' THEN 'tsched_track_admin'
        WHEN 'coordinator' THEN 'tsched_coordinator'
        WHEN 'support' THEN 'tsched_support'
    END
$$;

-- Group memberships of a login = what its rows say (tsched_operator while active).
CREATE FUNCTION tsched_sync_memberships(p_login text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    g text;
    want boolean;
    had boolean;
    active_now boolean;
BEGIN
    SELECT active INTO active_now FROM operators WHERE login = p_login;
    FOREACH g IN ARRAY ARRAY['tsched_operator', 'tsched_global_admin', 'tsched_track_admin',
                             'tsched_support', 'tsched_coordinator'] LOOP
        want := coalesce(active_now, false) AND (g = 'tsched_operator' OR EXISTS (
            SELECT 1 FROM operators o JOIN operator_roles r ON r.operator_id = o.id
            WHERE o.login = p_login AND tsched_group_of(r.role) = g));
        had := EXISTS (SELECT 1 FROM pg_auth_members m
                       JOIN pg_roles gr ON gr.oid = m.roleid JOIN pg_roles lr ON lr.oid = m.member
                       WHERE gr.rolname = g AND lr.rolname = p_login);
        IF want AND NOT had THEN
            EXECUTE format('GRANT %I TO %I', g, p_login);
        ELSIF had AND NOT want THEN
            EXECUTE format('REVOKE %I FROM %I', g, p_login);
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION tsched_find_operator(p_upn text) RETURNS operators
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    o operators;
BEGIN
    SELECT * INTO o FROM operators WHERE login = lower(btrim(p_upn) COLLATE "C");
    IF NOT FOUND THEN
        RAISE EXCEPTION '''%'' is not an operator of this store', btrim(p_upn)
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN o;
END
$$;

-- Adds an operator (no roles yet) and makes sure their login exists and may connect. A login
-- made here has no password: the DBA sets how it authenticates (pg_hba.conf: a password set
-- with ALTER ROLE ... PASSWORD, a client certificate, ...). Returns the operator's id.
CREATE FUNCTION tsched_operator_add(p_upn text, p_display_name text DEFAULT '') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    v_upn text := btrim(p_upn);
    v_id bigint;
BEGIN
    PERFORM tsched_require_global_admin();
    IF v_upn = '' OR v_upn !~ '^[^@\s]+@[^@\s]+$' THEN
        RAISE EXCEPTION 'not a UPN: ''%''', v_upn USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO operators (upn, display_name, active, created_at)
    VALUES (v_upn, coalesce(p_display_name, ''), true,
            to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
    RETURNING id INTO v_id;
    PERFORM tsched_ensure_login(lower(v_upn COLLATE "C"));
    PERFORM tsched_sync_memberships(lower(v_upn COLLATE "C"));
    RETURN v_id;
END
$$;

-- Removes an operator and their roles; their login stays (NOLOGIN, no memberships), so the
-- audit trail's names keep meaning someone and a later re-add finds it.
CREATE FUNCTION tsched_operator_remove(p_upn text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    o operators;
BEGIN
    PERFORM tsched_require_global_admin();
    o := tsched_find_operator(p_upn);
    DELETE FROM operators WHERE id = o.id;
    PERFORM tsched_sync_memberships(o.login);
    EXECUTE format('ALTER ROLE %I NOLOGIN', o.login);
END
$$;

-- Deactivates (NOLOGIN, no memberships: open sessions lose every right at their next statement,
-- since the policies check `active`) or reactivates an operator.
CREATE FUNCTION tsched_operator_set_active(p_upn text, p_active boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    o operators;
BEGIN
    PERFORM tsched_require_global_admin();
    o := tsched_find_operator(p_upn);
    UPDATE operators SET active = p_active WHERE id = o.id;
    PERFORM tsched_sync_memberships(o.login);
    EXECUTE format('ALTER ROLE %I %s', o.login, CASE WHEN p_active THEN 'LOGIN' ELSE 'NOLOGIN' END);
END
$$;

-- Grants a role (per-program roles name the program's code). Nobody grants themselves anything,
-- global admins included: a second admin must.
CREATE FUNCTION tsched_role_grant(p_upn text, p_role text, p_program_code text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    o operators;
    v_program bigint;
BEGIN
    PERFORM tsched_require_global_admin();
    o := tsched_find_operator(p_upn);
    IF o.login = session_user THEN
        RAISE EXCEPTION '% may not grant themselves a role; another global admin must', session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF tsched_group_of(p_role) IS NULL THEN
        RAISE EXCEPTION 'unknown role ''%''; use global_admin, track_admin, coordinator or support', p_role
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_program_code IS NOT NULL THEN
        SELECT id INTO v_program FROM programs WHERE code_key = lower(btrim(p_program_code) COLLATE "C");
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no program ''%''', p_program_code USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    -- The table's CHECK refuses a per-program role without a program and a global one with.
    INSERT INTO operator_roles (operator_id, role, program_id, granted_at)
    VALUES (o.id, p_role, v_program,
            to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    PERFORM tsched_sync_memberships(o.login);
END
$$;

-- Revokes a role; returns whether it was held.
CREATE FUNCTION tsched_role_revoke(p_upn text, p_role text, p_program_code text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    o operators;
    n bigint;
BEGIN
    PERFORM tsched_require_global_admin();
    o := tsched_find_operator(p_upn);
    DELETE FROM operator_roles r
    WHERE r.operator_id = o.id AND r.role = p_role
      AND r.program_id IS NOT DISTINCT FROM (
          SELECT id FROM programs WHERE code_key = lower(btrim(p_program_code) COLLATE "C"));
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM tsched_sync_memberships(o.login);
    RETURN n > 0;
END
$$;

-- At sign-in the operator's own row records their Entra object id (once: a different id later
-- needs a global admin to remove and re-add them) and display name.
CREATE FUNCTION tsched_operator_link_identity(p_object_id text, p_display_name text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    UPDATE operators
    SET object_id = p_object_id,
        display_name = CASE WHEN coalesce(p_display_name, '') = '' THEN display_name ELSE p_display_name END
    WHERE login = session_user AND active AND (object_id IS NULL OR object_id = p_object_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$$;

-- The first global admin, by the database owner at `store init` (the store's setup mode): only
-- while the roster is empty.
CREATE FUNCTION tsched_bootstrap(p_upn text, p_display_name text DEFAULT '') RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = tsched, pg_temp AS $$
DECLARE
    v_upn text := btrim(p_upn);
    v_id bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM operators) THEN
        RAISE EXCEPTION 'the store already has operators; a global admin adds more'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF v_upn = '' OR v_upn !~ '^[^@\s]+@[^@\s]+$' THEN
        RAISE EXCEPTION 'not a UPN: ''%''', v_upn USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO operators (upn, display_name, active, created_at)
    VALUES (v_upn, coalesce(p_display_name, ''), true,
            to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
    RETURNING id INTO v_id;
    INSERT INTO operator_roles (operator_id, role, program_id, granted_at)
    VALUES (v_id, 'global_admin', NULL,
            to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    PERFORM tsched_ensure_login(lower(v_upn COLLATE "C"));
    PERFORM tsched_sync_memberships(lower(v_upn COLLATE "C"));
    RETURN v_id;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Function privileges: functions are executable by PUBLIC when created; none of ours is.
DO $fns$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'tsched'::regnamespace AND p.proname LIKE 'tsched\_%' LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$fns$;
-- What policies call runs as the querying user, who needs EXECUTE.
GRANT EXECUTE ON FUNCTION
    tsched_me(), tsched_is_operator(), tsched_sees_all(), tsched_view_programs(),
    tsched_has_role(text, bigint),
    tsched_has_role_code(text, text), tsched_is_global_admin(), tsched_may_view(bigint),
    tsched_may_edit(bigint), tsched_may_schedule(bigint), tsched_meeting_program(bigint),
    tsched_may_manage_batch(text), tsched_may_view_batch(text), tsched_batch_programs(bigint),
    tsched_may_read_audit(text),
    tsched_program_search(text, boolean, boolean, text, text[], integer, integer),
    tsched_operator_link_identity(text, text)
TO tsched_operator;
GRANT EXECUTE ON FUNCTION
    tsched_operator_add(text, text), tsched_operator_remove(text),
    tsched_operator_set_active(text, boolean), tsched_role_grant(text, text, text),
    tsched_role_revoke(text, text, text)
TO tsched_global_admin;
-- tsched_bootstrap: the owner only (owners may always execute their functions).

-- ---------------------------------------------------------------------------------------------
-- Table privileges (which statements). Nobody but the owner holds TRUNCATE or REFERENCES, which
-- row-level security does not govern.

GRANT SELECT ON ALL TABLES IN SCHEMA tsched TO tsched_operator;
-- Every operator writes the audit rows of what they do (never the id, which the server draws)
-- and the directory cache their membership checks fill (support included: Action::MembershipCheck).
GRANT INSERT (at, operator, action, target, program_code, before_json, after_json,
              graph_request_id, real_actor) ON audit_log TO tsched_operator;
GRANT INSERT, UPDATE ON directory_cache TO tsched_operator;
-- Whoever's session refreshes the host's token records the refresh (integration::record).
GRANT UPDATE (last_refresh_at, granted_scopes, state, attention_reason) ON integration TO tsched_operator;
-- The welcome dismissal (welcome::dismiss: anyone who may act); the policy limits the key.
GRANT INSERT, UPDATE ON settings TO tsched_operator;

-- Track admin: a program's name and description (not its code, not archiving), modes, participants.
GRANT UPDATE (name, description, updated_at) ON programs TO tsched_track_admin;
GRANT INSERT, UPDATE, DELETE ON program_meeting_modes, participants TO tsched_track_admin;

-- Coordinator: meetings and batches (their items and attendees with them).
GRANT INSERT, UPDATE, DELETE ON meetings, meeting_attendees, batches, batch_items TO tsched_coordinator;

-- The host agent's queue: every operator may ask (the policies say for which programs: who
-- may schedule the program, who may manage the batch's programs); only global admins run
-- agents, which claim jobs and write their outcome, and announce themselves in `agents`.
GRANT INSERT (kind, program_id, programs, payload, batch_id) ON work_queue TO tsched_operator;
GRANT UPDATE ON work_queue TO tsched_global_admin;
GRANT INSERT, UPDATE, DELETE ON agents TO tsched_global_admin;

-- Global admin: everything except the roster (functions only), the audit trail's history and
-- the server-kept tables (batch_item_counts, tsched_meta).
GRANT INSERT, UPDATE, DELETE ON programs, program_meeting_modes, participants, meetings,
    meeting_attendees, batches, batch_items, integration, directory_cache, settings
TO tsched_global_admin;

-- The owner keeps no way to rewrite the audit trail by accident either.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM CURRENT_USER;

-- ---------------------------------------------------------------------------------------------
-- Row-level security. ENABLE makes policies apply to everyone but the owner; FORCE applies them
-- to the owner too, so every access is through a policy written here. The owner's own policy
-- (`owner`) is what the SECURITY DEFINER functions above run under: they see and change every
-- row, and each checks its caller itself.

DO $rls$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'tsched'::regnamespace AND c.relkind = 'r'
               AND c.relname <> 'audit_log' LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY owner ON %I TO CURRENT_USER USING (true) WITH CHECK (true)', t);
    END LOOP;
END
$rls$;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY owner_read ON audit_log FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_append ON audit_log FOR INSERT TO CURRENT_USER WITH CHECK (true);

CREATE POLICY meta_read ON tsched_meta FOR SELECT TO tsched_operator USING (true);

-- programs: view per program; create and delete are a global admin's; edit is a track admin's of
-- that program (the column grants above keep `archived` and `code` to global admins).
CREATE POLICY view ON programs FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR id = ANY ((SELECT tsched_view_programs())::bigint[]));
CREATE POLICY program_create ON programs FOR INSERT TO tsched_operator WITH CHECK (tsched_is_global_admin());
CREATE POLICY program_edit ON programs FOR UPDATE TO tsched_operator
    USING (tsched_may_edit(id)) WITH CHECK (tsched_may_edit(id));
CREATE POLICY program_delete ON programs FOR DELETE TO tsched_operator USING (tsched_is_global_admin());

-- meeting modes and participants: view with the program, change as its editor.
CREATE POLICY view ON program_meeting_modes FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR program_id = ANY ((SELECT tsched_view_programs())::bigint[]));
CREATE POLICY edit_insert ON program_meeting_modes FOR INSERT TO tsched_operator
    WITH CHECK (tsched_may_edit(program_id));
CREATE POLICY edit_update ON program_meeting_modes FOR UPDATE TO tsched_operator
    USING (tsched_may_edit(program_id)) WITH CHECK (tsched_may_edit(program_id));
CREATE POLICY edit_delete ON program_meeting_modes FOR DELETE TO tsched_operator
    USING (tsched_may_edit(program_id));
CREATE POLICY view ON participants FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR program_id = ANY ((SELECT tsched_view_programs())::bigint[]));
CREATE POLICY edit_insert ON participants FOR INSERT TO tsched_operator
    WITH CHECK (tsched_may_edit(program_id));
CREATE POLICY edit_update ON participants FOR UPDATE TO tsched_operator
    USING (tsched_may_edit(program_id)) WITH CHECK (tsched_may_edit(program_id));
CREATE POLICY edit_delete ON participants FOR DELETE TO tsched_operator
    USING (tsched_may_edit(program_id));

-- The roster: global admins and support read all of it (Action::OperatorsView), everyone their
-- own row and roles (to know who they are). No write policy: the functions write as the owner.
CREATE POLICY view ON operators FOR SELECT TO tsched_operator
    USING (login = session_user OR (SELECT tsched_sees_all()));
CREATE POLICY view ON operator_roles FOR SELECT TO tsched_operator
    USING (operator_id = (SELECT tsched_me()) OR (SELECT tsched_sees_all()));

-- The integration row: every operator reads it (a session to Graph starts from it) and records
-- refreshes (column grant above) on a live connection; the rest is a global admin's.
CREATE POLICY view ON integration FOR SELECT TO tsched_operator USING (tsched_is_operator());
CREATE POLICY manage_insert ON integration FOR INSERT TO tsched_operator
    WITH CHECK (tsched_is_global_admin());
CREATE POLICY manage_update ON integration FOR UPDATE TO tsched_operator
    USING (tsched_is_global_admin()) WITH CHECK (tsched_is_global_admin());
CREATE POLICY manage_delete ON integration FOR DELETE TO tsched_operator
    USING (tsched_is_global_admin());
CREATE POLICY record_refresh ON integration FOR UPDATE TO tsched_operator
    USING (tsched_is_operator() AND state <> 'removed')
    WITH CHECK (tsched_is_operator() AND state <> 'removed');

-- The directory cache: every operator reads and fills it; emptying it is a global admin's.
CREATE POLICY view ON directory_cache FOR SELECT TO tsched_operator USING (tsched_is_operator());
CREATE POLICY fill ON directory_cache FOR INSERT TO tsched_operator WITH CHECK (tsched_is_operator());
CREATE POLICY refill ON directory_cache FOR UPDATE TO tsched_operator
    USING (tsched_is_operator()) WITH CHECK (tsched_is_operator());
CREATE POLICY purge ON directory_cache FOR DELETE TO tsched_operator USING (tsched_is_global_admin());

-- meetings: view with the program; create, change, cancel as its coordinator.
-- The write policies of meetings, attendees, batches and their items ask first, once per
-- statement, whether the session is a global admin (`(SELECT tsched_is_global_admin())`, an
-- InitPlan; OR stops at true): the per-row check it passes anyway costs a chain of SECURITY
-- DEFINER calls for every row, which set-wide writes of the host agent (a global admin) paid
-- per meeting (agent bench). Only the other roles still pay the per-row check.
CREATE POLICY view ON meetings FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR program_id = ANY ((SELECT tsched_view_programs())::bigint[]));
CREATE POLICY schedule_insert ON meetings FOR INSERT TO tsched_operator
    WITH CHECK ((SELECT tsched_is_global_admin()) OR tsched_may_schedule(program_id));
CREATE POLICY schedule_update ON meetings FOR UPDATE TO tsched_operator
    USING ((SELECT tsched_is_global_admin()) OR tsched_may_schedule(program_id))
    WITH CHECK ((SELECT tsched_is_global_admin()) OR tsched_may_schedule(program_id));
CREATE POLICY schedule_delete ON meetings FOR DELETE TO tsched_operator
    USING ((SELECT tsched_is_global_admin()) OR tsched_may_schedule(program_id));
CREATE POLICY view ON meeting_attendees FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR EXISTS (
        SELECT 1 FROM meetings m WHERE m.id = meeting_id
            AND m.program_id = ANY ((SELECT tsched_view_programs())::bigint[])));
CREATE POLICY schedule_insert ON meeting_attendees FOR INSERT TO tsched_operator
    WITH CHECK ((SELECT tsched_is_global_admin())
                OR tsched_may_schedule(tsched_meeting_program(meeting_id)));
CREATE POLICY schedule_update ON meeting_attendees FOR UPDATE TO tsched_operator
    USING ((SELECT tsched_is_global_admin())
           OR tsched_may_schedule(tsched_meeting_program(meeting_id)))
    WITH CHECK ((SELECT tsched_is_global_admin())
                OR tsched_may_schedule(tsched_meeting_program(meeting_id)));
CREATE POLICY schedule_delete ON meeting_attendees FOR DELETE TO tsched_operator
    USING ((SELECT tsched_is_global_admin())
           OR tsched_may_schedule(tsched_meeting_program(meeting_id)));

-- batches: managed by who coordinates every program of the batch; support reads them.
CREATE POLICY view ON batches FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR tsched_may_manage_batch(programs));
CREATE POLICY manage_insert ON batches FOR INSERT TO tsched_operator
    WITH CHECK ((SELECT tsched_is_global_admin()) OR tsched_may_manage_batch(programs));
CREATE POLICY manage_update ON batches FOR UPDATE TO tsched_operator
    USING ((SELECT tsched_is_global_admin()) OR tsched_may_manage_batch(programs))
    WITH CHECK ((SELECT tsched_is_global_admin()) OR tsched_may_manage_batch(programs));
CREATE POLICY manage_delete ON batches FOR DELETE TO tsched_operator
    USING ((SELECT tsched_is_global_admin()) OR tsched_may_manage_batch(programs));
CREATE POLICY view ON batch_items FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR tsched_batch_programs(batch_id) IS NOT NULL);
CREATE POLICY manage_insert ON batch_items FOR INSERT TO tsched_operator
    WITH CHECK ((SELECT tsched_is_global_admin())
                OR tsched_may_manage_batch(tsched_batch_programs(batch_id)));
CREATE POLICY manage_update ON batch_items FOR UPDATE TO tsched_operator
    USING ((SELECT tsched_is_global_admin())
           OR tsched_may_manage_batch(tsched_batch_programs(batch_id)))
    WITH CHECK ((SELECT tsched_is_global_admin())
                OR tsched_may_manage_batch(tsched_batch_programs(batch_id)));
CREATE POLICY manage_delete ON batch_items FOR DELETE TO tsched_operator
    USING ((SELECT tsched_is_global_admin())
           OR tsched_may_manage_batch(tsched_batch_programs(batch_id)));
CREATE POLICY view ON batch_item_counts FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR tsched_batch_programs(batch_id) IS NOT NULL);

-- The host agent's queue: a job is seen by who asked for it and by global admins and support;
-- enqueued by who may schedule its program (meetings) or manage all its programs (batches; a
-- job on an existing batch also needs that batch's programs); claimed and finished by global
-- admins (the agents).
CREATE POLICY view ON work_queue FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR requested_by = session_user);
CREATE POLICY enqueue ON work_queue FOR INSERT TO tsched_operator
    WITH CHECK (tsched_is_operator() AND CASE
        WHEN kind LIKE 'meeting.%' THEN program_id IS NOT NULL AND tsched_may_schedule(program_id)
        ELSE programs <> '' AND tsched_may_manage_batch(programs)
             AND (batch_id IS NULL OR tsched_may_manage_batch(tsched_batch_programs(batch_id)))
    END);
CREATE POLICY agent_update ON work_queue FOR UPDATE TO tsched_operator
    USING ((SELECT tsched_is_global_admin())) WITH CHECK ((SELECT tsched_is_global_admin()));
CREATE POLICY view ON agents FOR SELECT TO tsched_operator USING (tsched_is_operator());
CREATE POLICY announce ON agents FOR INSERT TO tsched_operator
    WITH CHECK (tsched_is_global_admin() AND login = session_user);
CREATE POLICY beat ON agents FOR UPDATE TO tsched_operator
    USING (tsched_is_global_admin()) WITH CHECK (tsched_is_global_admin());
CREATE POLICY retire ON agents FOR DELETE TO tsched_operator USING (tsched_is_global_admin());

-- The audit trail: global admin and support read all, a track admin their programs' rows;
-- every active operator appends (as themselves: the trigger sets `operator` before this check).
CREATE POLICY view ON audit_log FOR SELECT TO tsched_operator
    USING ((SELECT tsched_sees_all()) OR tsched_may_read_audit(program_code));
CREATE POLICY append ON audit_log FOR INSERT TO tsched_operator
    WITH CHECK ((SELECT tsched_is_operator())
                AND (operator = session_user OR real_actor = session_user));

-- Settings: every operator reads; a global admin writes; anyone records the welcome dismissal.
CREATE POLICY view ON settings FOR SELECT TO tsched_operator USING (tsched_is_operator());
CREATE POLICY manage_insert ON settings FOR INSERT TO tsched_operator
    WITH CHECK (tsched_is_global_admin());
CREATE POLICY manage_update ON settings FOR UPDATE TO tsched_operator
    USING (tsched_is_global_admin()) WITH CHECK (tsched_is_global_admin());
CREATE POLICY manage_delete ON settings FOR DELETE TO tsched_operator
    USING (tsched_is_global_admin());
CREATE POLICY welcome ON settings FOR INSERT TO tsched_operator
    WITH CHECK (tsched_is_operator() AND key = 'welcome.dismissed');
CREATE POLICY welcome_again ON settings FOR UPDATE TO tsched_operator
    USING (tsched_is_operator() AND key = 'welcome.dismissed')
    WITH CHECK (tsched_is_operator() AND key = 'welcome.dismissed');

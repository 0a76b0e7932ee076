//! What a Graph call says in the log: the path *template* (`/users/{id}`), never the concrete
//! path. Ids, UPNs, mail addresses and `$filter` values are personal data or meeting secrets
//! (a join URL's id), so only known literal segments and query parameter *names* survive.
//! Pure, so the redaction is unit-tested; the event itself is emitted by `GraphClient::send`.

/// Path segments that are Graph resource names, kept verbatim; anything else is an id.
const LITERAL_SEGMENTS: &[&str] = &[
    "$batch",
    "$count",
    "beta",
    "calendar",
    "calendarView",
    "createOrGet",
    "events",
    "me",
    "onlineMeetings",
    "organization",
    "users",
    "v1.0",
];

/// Pure: `/users/alice%40contoso.com?$select=id,mail` → `/users/{id}?$select`.
/// Unknown segments become `{id}`; query values are dropped, names kept in order.
pub fn path_template(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if LITERAL_SEGMENTS.contains(&seg) {
            out.push_str(seg);
        } else {
            out.push_str("{id}");
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if let Some(q) = query {
        let names: Vec<&str> = q
            .split('&')
            .filter_map(|kv| kv.split('=').next())
            .filter(|k| !k.is_empty())
            // A name is ours (`$select`, `$filter`); anything odd is dropped, not logged.
            .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '$'))
            .collect();
        if !names.is_empty() {
            out.push('?');
            out.push_str(&names.join("&"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_in_path_is_replaced_by_an_id_placeholder() {
        assert_eq!(
            path_template("/users/alice%40contoso.com?$select=id,mail"),
            "/users/{id}?$select",
            "a UPN is personal data and must not reach the log"
        );
    }

    #[test]
    fn filter_values_are_dropped_and_names_kept() {
        let t = path_template("/users?$filter=mail%20eq%20'bob%40x.com'&$count=true&$select=id");
        assert_eq!(
            t, "/users?$filter&$count&$select",
            "query values must not be logged"
        );
        assert!(!t.contains("bob"), "the filtered address must not survive");
    }

    #[test]
    fn meeting_id_is_replaced_and_resource_names_kept() {
        assert_eq!(
            path_template("/me/onlineMeetings/MSo1N2Y5ZGFjYy03MWJmLTQ3NDMtYjQxMy01M2EdFGkdRWHJlQ"),
            "/me/onlineMeetings/{id}",
            "an online meeting id must be templated"
        );
        assert_eq!(
            path_template("/me/onlineMeetings/createOrGet"),
            "/me/onlineMeetings/createOrGet",
            "known action segments are kept"
        );
        assert_eq!(path_template("/$batch"), "/$batch", "$batch is a literal");
        assert_eq!(path_template("/me"), "/me", "me is a literal");
        assert_eq!(path_template(""), "/", "an empty path is the root");
    }

    #[test]
    fn odd_query_names_are_dropped_not_logged() {
        assert_eq!(
            path_template("/me?a%40b=1&$select=id"),
            "/me?$select",
            "an encoded name could carry data"
        );
    }
}

//! Which Microsoft cloud the tenant lives in, and the two base URLs that follow from it: the
//! identity authority (`https://login…`) and Microsoft Graph (`https://graph…/v1.0`).
//!
//! Endpoints per cloud: https://learn.microsoft.com/en-us/graph/deployments. The `sandbox` cloud
//! is the base URL of a running `tsched-sandbox`; nothing else in the client special-cases it —
//! only these base URLs differ. This module does no I/O.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use url::Url;

/// A Microsoft cloud (national deployment) or the local sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloud {
    /// Microsoft global service (login.microsoftonline.com / graph.microsoft.com).
    Global,
    /// US Government L4 (login.microsoftonline.us / graph.microsoft.us).
    UsGov,
    /// US Government L5 / DoD (login.microsoftonline.us / dod-graph.microsoft.us).
    Dod,
    /// China, operated by 21Vianet (login.chinacloudapi.cn / microsoftgraph.chinacloudapi.cn).
    /// Teams online meetings are not offered there.
    China,
    /// A running `tsched-sandbox` at this base URL (no trailing slash).
    Sandbox(String),
}

/// The base URLs a connection talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// Identity authority base, without tenant: `https://login.microsoftonline.com`.
    pub authority_base: String,
    /// Graph base including the version: `https://graph.microsoft.com/v1.0`.
    pub graph_base: String,
}

impl Cloud {
    /// The stored name (`global`, `usgov`, `dod`, `china`, `sandbox`).
    pub fn name(&self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::Dod => "dod",
            Cloud::China => "china",
            Cloud::Sandbox(_) => "sandbox",
        }
    }

    /// The base URLs of this cloud.
    pub fn endpoints(&self) -> Endpoints {
        let (login, graph) = match self {
            Cloud::Global => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
            ),
            Cloud::UsGov => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
            ),
            Cloud::Dod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
            ),
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
            ),
            Cloud::Sandbox(base) => {
                return Endpoints {
                    authority_base: base.clone(),
                    graph_base: format!("{base}/v1.0"),
                }
            }
        };
        Endpoints {
            authority_base: login.to_string(),
            graph_base: format!("{graph}/v1.0"),
        }
    }

    /// Whether Teams online meetings can be created in this cloud. When not, connecting still
    /// works and meeting features say why they are unavailable.
    pub fn meetings_unavailable_reason(&self) -> Option<&'static str> {
        match self {
            Cloud::China => Some(
                "Teams online meetings through Microsoft Graph are not offered in the China cloud (21Vianet)",
            ),
            _ => None,
        }
    }

    /// A sandbox cloud from its base URL: must be `http(s)://host[:port]` with no query, and
    /// plain `http` only on this machine's loopback (`127.0.0.0/8`, `::1`, `localhost`): a
    /// refresh token is never sent in the clear over a network.
    pub fn sandbox(base: &str) -> Result<Self, String> {
        let url = Url::parse(base.trim()).map_err(|e| format!("'{base}' is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "'{base}' must be an http(s) URL such as http://127.0.0.1:8080"
            ));
        }
        if url.scheme() == "http" && !is_loopback(&url) {
            return Err(format!(
                "'{base}' is plain http on another machine; a sandbox over http must run on this machine (127.0.0.1, [::1] or localhost), otherwise use https"
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("'{base}' must not have a query or fragment"));
        }
        Ok(Cloud::Sandbox(
            url.as_str().trim_end_matches('/').to_string(),
        ))
    }

    /// Rebuilds a cloud from its stored name and authority base (the sandbox needs the URL).
    /// For Microsoft's clouds the stored base is ignored: their endpoints always derive from the
    /// cloud ([`Cloud::endpoints`]), so editing a stored URL cannot send a token elsewhere.
    pub fn from_stored(name: &str, authority_base: &str) -> Result<Self, String> {
        match name {
            "sandbox" => Cloud::sandbox(authority_base),
            other => other.parse(),
        }
    }

    /// Whether this is a local sandbox rather than one of Microsoft's clouds.
    pub fn is_sandbox(&self) -> bool {
        matches!(self, Cloud::Sandbox(_))
    }

    /// The identity authority's host (and port, when not the scheme's default), which keyring
    /// entries are bound to: `login.microsoftonline.com`, `127.0.0.1:4567`.
    pub fn authority_host(&self) -> String {
        let base = self.endpoints().authority_base;
        match Url::parse(&base) {
            Ok(u) => match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                _ => base,
            },
            Err(_) => base,
        }
    }
}

/// Pure: whether a URL's host is this machine's loopback.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

impl Cloud {
    /// The cloud a person chose, as both front ends ask for it: a cloud name (`global`,
    /// `usgov`, `dod`, `china`, or `sandbox`) and, for the sandbox, its base URL. A sandbox URL
    /// with a real cloud's name is refused rather than silently picking one of the two.
    pub fn chosen(name: &str, sandbox_url: Option<&str>) -> Result<Self, String> {
        let url = sandbox_url.map(str::trim).filter(|u| !u.is_empty());
        let name = name.trim();
        match url {
            Some(url) if name.is_empty() || name.eq_ignore_ascii_case("sandbox") => {
                Cloud::sandbox(url)
            }
            Some(_) => Err(format!(
                "a sandbox URL was given with the cloud '{name}'; choose the sandbox or that cloud"
            )),
            None => name.parse(),
        }
    }
}

impl FromStr for Cloud {
    type Err = String;

    /// Parses `global`, `usgov`, `dod`, `china`; `sandbox` needs a URL, see [`Cloud::sandbox`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "global" | "public" | "" => Ok(Cloud::Global),
            "usgov" | "gcchigh" | "us-gov" => Ok(Cloud::UsGov),
            "dod" => Ok(Cloud::Dod),
            "china" => Ok(Cloud::China),
            "sandbox" => Err("the sandbox cloud needs its base URL (--sandbox URL)".to_string()),
            other => Err(format!(
                "unknown cloud '{other}'; use one of global, usgov, dod, china, or --sandbox URL"
            )),
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cloud::Sandbox(url) => write!(f, "sandbox ({url})"),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chosen_cloud_is_a_name_or_a_sandbox_url_never_both() {
        assert_eq!(
            Cloud::chosen("", None),
            Ok(Cloud::Global),
            "no choice is global"
        );
        assert_eq!(Cloud::chosen(" usgov ", None), Ok(Cloud::UsGov));
        let sb = Cloud::chosen("", Some("http://127.0.0.1:8080")).expect("sandbox by URL");
        assert_eq!(
            Cloud::chosen("sandbox", Some("http://127.0.0.1:8080")),
            Ok(sb),
            "naming the sandbox with its URL is the same choice"
        );
        assert!(
            Cloud::chosen("sandbox", None).is_err(),
            "the sandbox needs its URL"
        );
        let both = Cloud::chosen("china", Some("http://127.0.0.1:8080")).expect_err("both");
        assert!(
            both.contains("china"),
            "a real cloud with a sandbox URL is refused, naming the cloud: {both}"
        );
    }

    #[test]
    fn each_cloud_has_its_documented_endpoints() {
        let cases = [
            (
                Cloud::Global,
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com/v1.0",
            ),
            (
                Cloud::UsGov,
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us/v1.0",
            ),
            (
                Cloud::Dod,
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us/v1.0",
            ),
            (
                Cloud::China,
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn/v1.0",
            ),
        ];
        for (cloud, login, graph) in cases {
            let e = cloud.endpoints();
            assert_eq!(
                e.authority_base, login,
                "authority of {cloud} (graph/deployments)"
            );
            assert_eq!(
                e.graph_base, graph,
                "graph base of {cloud} (graph/deployments)"
            );
        }
    }

    #[test]
    fn sandbox_only_changes_base_urls() {
        let c = Cloud::sandbox("http://127.0.0.1:4567/").expect("valid sandbox URL");
        let e = c.endpoints();
        assert_eq!(
            e.authority_base, "http://127.0.0.1:4567",
            "trailing slash dropped"
        );
        assert_eq!(
            e.graph_base, "http://127.0.0.1:4567/v1.0",
            "graph = base + /v1.0"
        );
        assert_eq!(
            Cloud::from_stored("sandbox", &e.authority_base),
            Ok(c),
            "a stored sandbox cloud round-trips through its authority base"
        );
        assert!(Cloud::sandbox("ftp://x").is_err(), "only http(s) sandboxes");
    }

    #[test]
    fn plain_http_sandbox_on_another_host_is_refused() {
        assert!(
            Cloud::sandbox("http://attacker.example:8080").is_err(),
            "a refresh token must never go in the clear to another machine"
        );
        assert!(
            Cloud::from_stored("sandbox", "http://10.0.0.5").is_err(),
            "a stored sandbox URL is checked the same way"
        );
        for ok in [
            "http://127.0.0.1:1",
            "http://127.8.0.1",
            "http://[::1]:9",
            "http://localhost:5",
            "https://sandbox.example",
        ] {
            assert!(Cloud::sandbox(ok).is_ok(), "{ok} is a valid sandbox");
        }
        assert_eq!(
            Cloud::sandbox("http://127.0.0.1:4567")
                .expect("valid")
                .authority_host(),
            "127.0.0.1:4567",
            "the host a keyring entry is bound to keeps the port"
        );
    }

    #[test]
    fn stored_urls_of_a_microsoft_cloud_are_ignored() {
        let c = Cloud::from_stored("global", "http://attacker.example").expect("global parses");
        assert_eq!(
            c.endpoints().authority_base,
            "https://login.microsoftonline.com",
            "a Microsoft cloud's endpoints come from the cloud, never from the store"
        );
        assert_eq!(c.authority_host(), "login.microsoftonline.com", "host");
    }

    #[test]
    fn only_china_lacks_meetings() {
        assert!(
            Cloud::China.meetings_unavailable_reason().is_some(),
            "China has no Graph meetings"
        );
        assert!(
            Cloud::Global.meetings_unavailable_reason().is_none(),
            "global has meetings"
        );
        assert!(
            "mars".parse::<Cloud>().is_err(),
            "unknown clouds are refused"
        );
    }
}

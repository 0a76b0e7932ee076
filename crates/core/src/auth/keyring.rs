//! Where the host's refresh token lives: the OS keyring (Secret Service on Linux, Keychain on
//! macOS, Credential Manager on Windows) under service `teams-scheduler` and account
//! `{store}/{cloud}@{authority host}/{tenant}/{host object id}` ([`Binding`] + [`account`]).
//! Behind the [`TokenStore`] trait so unit tests use [`MemoryTokenStore`]. A locked or missing
//! keyring is an error: there is deliberately no file fallback (a token in a file is a token in
//! every backup).
//!
//! Why the account is bound to the store and the authority: the store (SQLite) is a file other
//! people may be able to write (a shared or restored data directory) while only this OS user can
//! read their keyring. An entry is found only by the store that wrote it (so removing the
//! integration in one data directory never deletes another's token) and only for the identity
//! provider it was issued by (so editing the stored cloud or URL finds no token to send there).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{AuthError, Cloud};
use crate::secret::Sensitive;

/// Keyring service name.
pub const SERVICE: &str = "teams-scheduler";

/// The part of a keyring account that ties an entry to one data directory and one identity
/// provider: `{store id}/{cloud}@{authority host}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding(String);

impl Binding {
    /// The binding for the store whose database file is `store_path`, and `cloud`. The store id
    /// is the first 16 hex digits of the SHA-256 of the data directory's canonical path.
    pub fn new(store_path: &Path, cloud: &Cloud) -> Self {
        Binding(format!(
            "{}/{}@{}",
            store_id(store_path),
            cloud.name(),
            cloud.authority_host()
        ))
    }

    /// As text (the prefix of every account under it).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Pure but for `canonicalize`: a short stable id of the data directory holding `store_path`.
pub fn store_id(store_path: &Path) -> String {
    let dir = store_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .and_then(|p| p.canonicalize().ok())
        .unwrap_or_else(|| store_path.to_path_buf());
    let digest = Sha256::digest(dir.as_os_str().as_encoded_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The keyring account of a host connection under `binding`.
pub fn account(binding: &Binding, tenant_id: &str, host_object_id: &str) -> String {
    format!("{}/{tenant_id}/{host_object_id}", binding.0)
}

/// The account earlier versions used (`{cloud}/{tenant}/{host}`, bound to neither store nor
/// authority). Read once to move an existing entry under its [`account`], never written.
pub fn legacy_account(cloud: &str, tenant_id: &str, host_object_id: &str) -> String {
    format!("{cloud}/{tenant_id}/{host_object_id}")
}

/// Finds the secret of `account`, moving it there from `legacy` first when only the legacy
/// entry exists (the upgrade from unbound accounts). The legacy account names the same cloud,
/// and a Microsoft cloud's endpoints never come from the store, so the moved token still only
/// goes where it was issued.
pub fn get_or_adopt(
    store: &dyn TokenStore,
    account: &str,
    legacy: &str,
) -> Result<Option<Sensitive<String>>, AuthError> {
    if let Some(t) = store.get(account)? {
        return Ok(Some(t));
    }
    match store.get(legacy)? {
        Some(t) => {
            store.set(account, &t)?;
            store.delete(legacy)?;
            Ok(Some(t))
        }
        None => Ok(None),
    }
}

/// Stores one secret per account. `set` replaces the previous value in one operation.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// Reads the secret; `Ok(None)` when there is none.
    fn get(&self, account: &str) -> Result<Option<Sensitive<String>>, AuthError>;
    /// Writes (replaces) the secret.
    fn set(&self, account: &str, secret: &Sensitive<String>) -> Result<(), AuthError>;
    /// Deletes the secret; deleting a missing one is not an error.
    fn delete(&self, account: &str) -> Result<(), AuthError>;
}

/// The OS keyring through the `keyring` crate.
#[derive(Debug, Clone)]
pub struct KeyringTokenStore {
    service: String,
}

impl Default for KeyringTokenStore {
    fn default() -> Self {
        Self {
            service: SERVICE.to_string(),
        }
    }
}

impl KeyringTokenStore {
    /// A store under another service name (tests use their own to stay apart from real data).
    pub fn with_service(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, AuthError> {
        keyring::Entry::new(&self.service, account).map_err(keyring_err)
    }
}

fn keyring_err(e: keyring::Error) -> AuthError {
    // keyring's messages describe the platform failure, never the secret.
    let reason = match &e {
        keyring::Error::NoStorageAccess(inner) => format!("no access to the keyring: {inner}"),
        keyring::Error::PlatformFailure(inner) => format!("keyring failure: {inner}"),
        other => other.to_string(),
    };
    AuthError::Keyring { reason }
}

impl TokenStore for KeyringTokenStore {
    fn get(&self, account: &str) -> Result<Option<Sensitive<String>>, AuthError> {
        match self.entry(account)?.get_password() {
            Ok(s) => Ok(Some(Sensitive::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_err(e)),
        }
    }

    fn set(&self, account: &str, secret: &Sensitive<String>) -> Result<(), AuthError> {
        self.entry(account)?
            .set_password(secret.expose())
            .map_err(keyring_err)
    }

    fn delete(&self, account: &str) -> Result<(), AuthError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_err(e)),
        }
    }
}

/// In-memory store for tests; can pretend to be locked.
#[derive(Default)]
pub struct MemoryTokenStore {
    map: Mutex<HashMap<String, String>>,
    locked: AtomicBool,
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore").finish_non_exhaustive()
    }
}

impl MemoryTokenStore {
    /// Makes every call fail as a locked keyring would (or stop doing so).
    pub fn set_locked(&self, locked: bool) {
        self.locked.store(locked, Ordering::SeqCst);
    }

    /// How many secrets are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self) -> Result<(), AuthError> {
        if self.locked.load(Ordering::SeqCst) {
            Err(AuthError::Keyring {
                reason: "the collection is locked".into(),
            })
        } else {
            Ok(())
        }
    }
}

impl TokenStore for MemoryTokenStore {
    fn get(&self, account: &str) -> Result<Option<Sensitive<String>>, AuthError> {
        self.check()?;
        Ok(self.lock().get(account).cloned().map(Sensitive::new))
    }

    fn set(&self, account: &str, secret: &Sensitive<String>) -> Result<(), AuthError> {
        self.check()?;
        self.lock()
            .insert(account.to_string(), secret.expose().clone());
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<(), AuthError> {
        self.check()?;
        self.lock().remove(account);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_replaces_and_deletes() {
        let s = MemoryTokenStore::default();
        s.set("a", &Sensitive::new("one".into())).expect("set");
        s.set("a", &Sensitive::new("two".into())).expect("replace");
        assert_eq!(
            s.get("a")
                .expect("get")
                .map(|v| v.expose().clone())
                .as_deref(),
            Some("two"),
            "set replaces"
        );
        s.delete("a").expect("delete");
        s.delete("a").expect("deleting twice is fine");
        assert!(s.get("a").expect("get").is_none(), "deleted");
        s.set_locked(true);
        assert!(
            matches!(s.get("a"), Err(AuthError::Keyring { .. })),
            "a locked store errors, no fallback"
        );
    }

    #[test]
    fn account_names_store_cloud_authority_tenant_and_host() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("teams-scheduler.db");
        let b = Binding::new(&db, &Cloud::Global);
        let a = account(&b, "t-1", "o-2");
        assert!(
            a.ends_with("/global@login.microsoftonline.com/t-1/o-2"),
            "account = store/cloud@authority/tenant/host: {a}"
        );
        assert_eq!(a.split('/').next().map(str::len), Some(16), "store id: {a}");
    }

    #[test]
    fn removing_in_one_store_does_not_find_another_stores_token() {
        let one = tempfile::tempdir().expect("temp dir");
        let two = tempfile::tempdir().expect("temp dir");
        let a1 = account(
            &Binding::new(&one.path().join("x.db"), &Cloud::Global),
            "t",
            "o",
        );
        let a2 = account(
            &Binding::new(&two.path().join("x.db"), &Cloud::Global),
            "t",
            "o",
        );
        assert_ne!(a1, a2, "two data directories never share a keyring entry");
    }

    #[test]
    fn a_changed_authority_finds_no_token() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("x.db");
        let real = Cloud::sandbox("http://127.0.0.1:4000").expect("sandbox");
        let other = Cloud::sandbox("http://127.0.0.1:4001").expect("sandbox");
        assert_ne!(
            account(&Binding::new(&db, &real), "t", "o"),
            account(&Binding::new(&db, &other), "t", "o"),
            "an entry is bound to the authority that issued it"
        );
    }

    #[test]
    fn a_legacy_entry_is_moved_once() {
        let s = MemoryTokenStore::default();
        s.set("global/t/o", &Sensitive::new("rt".into()))
            .expect("set");
        let got = get_or_adopt(&s, "new/t/o", "global/t/o").expect("get");
        assert_eq!(
            got.map(|t| t.expose().clone()).as_deref(),
            Some("rt"),
            "adopted"
        );
        assert!(
            s.get("global/t/o").expect("get").is_none(),
            "legacy removed"
        );
        assert!(
            s.get("new/t/o").expect("get").is_some(),
            "moved under the bound account"
        );
    }
}

//! Where the host's refresh token lives: the OS keyring (Secret Service on Linux, Keychain on
//! macOS, Credential Manager on Windows) under service `teams-scheduler` and account
//! `{cloud}/{tenant}/{host object id}`. Behind the [`TokenStore`] trait so unit tests use
//! [`MemoryTokenStore`]. A locked or missing keyring is an error: there is deliberately no file
//! fallback (a token in a file is a token in every backup).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::AuthError;
use crate::secret::Sensitive;

/// Keyring service name.
pub const SERVICE: &str = "teams-scheduler";

/// The keyring account for a connection.
pub fn account(cloud: &str, tenant_id: &str, host_object_id: &str) -> String {
    format!("{cloud}/{tenant_id}/{host_object_id}")
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
    fn account_names_cloud_tenant_and_host() {
        assert_eq!(
            account("global", "t-1", "o-2"),
            "global/t-1/o-2",
            "account = cloud/tenant/host"
        );
    }
}

//! The store's contract, one test body per behaviour, run against both backends: the embedded
//! SQLite file and a team's PostgreSQL database (a real server from `tsched-pgtest`, the schema
//! created by `store init` as its owner). A behaviour that differs between them is a bug in one
//! backend.

mod batches;
mod invitations;
mod made;
mod meetings;
mod migrate;
mod occ;
mod programs;
mod roster;
mod sets;
mod support;

#[test]
fn settings_are_set_replaced_and_removed() {
    support::each_backend(|backend, store| {
        let t = store.tables();
        assert_eq!(
            t.setting("k").expect("get"),
            None,
            "{backend}: unset at first"
        );
        store
            .write(|tx| -> Result<(), tsched_core::Error> {
                tx.setting_put("k", "one")?;
                tx.setting_put("k", "two")?;
                Ok(())
            })
            .expect("write");
        assert_eq!(
            store.tables().setting("k").expect("get").as_deref(),
            Some("two"),
            "{backend}: a second put replaces the value"
        );
        let removed = store
            .write(|tx| -> Result<bool, tsched_core::Error> { Ok(tx.setting_delete("k")?) })
            .expect("delete");
        assert!(removed, "{backend}: delete says it was set");
        assert_eq!(
            store.tables().setting("k").expect("get"),
            None,
            "{backend}: and it is gone"
        );
    });
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    support::each_backend(|backend, store| {
        let r = store.write(|tx| -> Result<(), tsched_core::Error> {
            tx.setting_put("half", "written")?;
            Err(tsched_core::Error::Conflict("stop".into()))
        });
        assert!(r.is_err(), "{backend}: the closure's error comes back");
        assert_eq!(
            store.tables().setting("half").expect("get"),
            None,
            "{backend}: a write whose closure failed is rolled back"
        );
    });
}

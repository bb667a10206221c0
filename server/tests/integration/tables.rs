//! Every table and column in the live schema has a privacy policy in `platform::tables`, and
//! every policy names a table and columns that exist: a migration cannot add personal data that
//! nobody decided how to erase, export and expire.

use secrecy::ExposeSecret;
use std::collections::{BTreeMap, BTreeSet};

use server::platform::tables::{Erase, Export, TABLES};

use crate::support::{self, TestApp};

async fn every_table_and_column_has_a_privacy_policy(app: TestApp) {
    sqlx::any::install_default_drivers();
    let url = app.settings.database_url().expose_secret().to_string();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let live = support::schema(&pool, url.starts_with("postgres")).await;
    assert!(live.len() >= 15, "the schema was not read: {live:?}");
    let declared: BTreeMap<String, BTreeSet<String>> = TABLES
        .iter()
        .map(|table| (table.name.to_string(), table.columns.iter().map(|c| c.to_string()).collect()))
        .collect();
    assert_eq!(declared.len(), TABLES.len(), "a table is declared twice");
    for (table, columns) in &live {
        let Some(policy) = declared.get(table) else {
            panic!("table {table} has no privacy policy: add it to server/src/platform/tables.rs");
        };
        let undeclared: Vec<_> = columns.difference(policy).collect();
        assert!(undeclared.is_empty(), "{table}.{undeclared:?} not covered by its policy in platform/tables.rs");
        let gone: Vec<_> = policy.difference(columns).collect();
        assert!(gone.is_empty(), "the policy of {table} names columns the schema lacks: {gone:?}");
    }
    let missing: Vec<_> = declared.keys().filter(|name| !live.contains_key(*name)).collect();
    assert!(missing.is_empty(), "policies for tables the schema lacks: {missing:?}");
    // Every exception says why.
    for table in TABLES {
        if let Erase::Anonymise(why) | Erase::NotPersonal(why) = table.erase {
            assert!(why.len() > 10, "{}: say why it is not deleted", table.name);
        }
        if let Export::Excluded(why) = table.export {
            assert!(why.len() > 10, "{}: say why it is not exported", table.name);
        }
        assert!(!table.retain.is_empty(), "{}: say how long it is kept", table.name);
    }
}

on_both_databases!(every_table_and_column_has_a_privacy_policy);

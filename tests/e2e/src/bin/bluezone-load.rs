//! Load benchmark (loopback only, bounded): `uploads` phones upload through `clients`
//! concurrent connections to a server with an SQLite file store, or to `instances` servers
//! sharing a scratch schema of the PostgreSQL at `database` (dropped afterwards), each with
//! its own connection pool, clients spread over them; prints throughput and latency
//! quantiles, and checks that every accepted upload is stored.
//!
//! `cargo run --release -p bluezone-e2e --bin bluezone-load -- [uploads] [clients]
//! [postgres://… [instances]]` (defaults 1000, 50, SQLite, 1). Figures go in
//! docs/PERFORMANCE.md.

use std::sync::Arc;

use bluezone_core::{Clock, SystemClock};
use bluezone_e2e::load;
use bluezone_server::files::FolderFileStore;
use bluezone_server::store::{PostgresServerStore, ServerStore, SqliteServerStore};
use bluezone_server::{Authority, AuthorityConfig, AuthorityKeys};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let uploads: usize = args
        .next()
        .map_or(Ok(1000), |a| a.parse())
        .map_err(|e| format!("uploads: {e}"))?;
    let clients: usize = args
        .next()
        .map_or(Ok(50), |a| a.parse())
        .map_err(|e| format!("clients: {e}"))?;
    let postgres = args.next();
    let instances: usize = args
        .next()
        .map_or(Ok(1), |a| a.parse())
        .map_err(|e| format!("instances: {e}"))?;
    if !(1..=10_000).contains(&uploads)
        || !(1..=200).contains(&clients)
        || !(1..=8).contains(&instances)
    {
        return Err("uploads 1..=10000, clients 1..=200, instances 1..=8".into());
    }
    if instances > 1 && postgres.is_none() {
        return Err("several instances need a PostgreSQL database".into());
    }
    let dir = std::env::temp_dir().join(format!("bluezone-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut stores: Vec<Arc<dyn ServerStore>> = Vec::new();
    match &postgres {
        Some(url) => {
            let first = PostgresServerStore::scratch(url).map_err(|e| e.to_string())?;
            let schema = first.scratch_schema().unwrap_or_default().to_owned();
            stores.push(Arc::new(first));
            for _ in 1..instances {
                stores.push(Arc::new(
                    PostgresServerStore::open_in_schema(url, &schema).map_err(|e| e.to_string())?,
                ));
            }
        }
        None => stores.push(Arc::new(
            SqliteServerStore::open(&dir.join("server.db")).map_err(|e| e.to_string())?,
        )),
    }
    let files = Arc::new(FolderFileStore::new(dir.join("files")).map_err(|e| e.to_string())?);
    let authorities = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            Ok(Arc::new(Authority::new(
                AuthorityConfig::default(),
                AuthorityKeys::derive(&[4; 32], "452", "v1").map_err(|e| e.to_string())?,
                store,
                files.clone(),
                [5 + u8::try_from(i).unwrap_or(0); 32],
            )))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let authority = authorities[0].clone();
    let official = authority
        .create_official("load", "a long password", clock.now())
        .map_err(|e| e.message)?;
    let servers: Vec<_> = authorities
        .iter()
        .map(|a| bluezone_e2e::serve(a.clone(), clock.clone()))
        .collect();
    let report = load(
        &servers.iter().collect::<Vec<_>>(),
        &clock,
        official,
        uploads,
        clients,
    );
    // Everything accepted must be stored: publish as of tomorrow and count the real keys.
    let published = authority
        .publish_files(clock.now() + 2 * 86_400)
        .map_err(|e| e.message)?;
    let audit = authority.audit_log().map_err(|e| e.message)?;
    let real: usize = audit
        .iter()
        .filter(|e| e.action == "publish")
        .filter_map(|e| {
            e.detail
                .split(", ")
                .nth(1)?
                .strip_suffix(" real")?
                .parse::<usize>()
                .ok()
        })
        .sum();
    drop(servers);
    drop((authority, authorities));
    let _ = std::fs::remove_dir_all(&dir);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "uploads: {uploads} from {clients} concurrent clients (verify + certificate + sealed publish each), on {}",
        if postgres.is_some() {
            format!("PostgreSQL, {instances} instance(s)")
        } else {
            "SQLite".to_owned()
        }
    );
    println!(
        "succeeded: {}, failed: {}",
        report.succeeded,
        report.failures.len()
    );
    for failure in report.failures.iter().take(5) {
        println!("  failure: {failure}");
    }
    println!(
        "elapsed: {:.2} s, {:.0} uploads/s",
        report.elapsed.as_secs_f64(),
        report.succeeded as f64 / report.elapsed.as_secs_f64()
    );
    println!(
        "latency per upload: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(report.percentile(50)),
        ms(report.percentile(90)),
        ms(report.percentile(99)),
        ms(report.percentile(100))
    );
    println!(
        "published: {} file(s), {real} real keys (expected {})",
        published.len(),
        report.succeeded
    );
    if real != report.succeeded || !report.failures.is_empty() {
        return Err("uploads were lost or refused".into());
    }
    Ok(())
}

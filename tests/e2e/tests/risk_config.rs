//! The authority's risk configuration end to end: published by the server, fetched by a phone
//! in its download run over HTTP, verified with the pinned signer, applied when newer.

#![allow(clippy::unwrap_used)] // Test code.

use std::sync::Arc;

use bluezone_core::{HttpTransport, ManualClock};
use bluezone_protocol::risk::RiskConfig;
use bluezone_protocol::risk_config::RiskConfigDocument;
use bluezone_server::AuthorityConfig;
use bluezone_server::store::SqliteServerStore;

/// 2026-11-02 08:00 UTC.
const NOW: i64 = 1_793_577_600 + 8 * 3600;

#[test]
fn a_phone_applies_the_configuration_the_server_publishes() {
    let clock = Arc::new(ManualClock::new(NOW));
    let authority = bluezone_e2e::authority(
        AuthorityConfig::default(),
        Arc::new(SqliteServerStore::in_memory().unwrap()),
        NOW,
    );
    let server = bluezone_e2e::serve(authority.clone(), clock.clone());
    let transport = HttpTransport::new(&server.base);
    let phone = bluezone_e2e::phone(&authority, clock.clone(), 1).unwrap();

    phone.download_key_files(&transport).unwrap();
    assert_eq!(phone.risk_config().unwrap(), None, "none published");

    let mut document = RiskConfigDocument::new(0, 0, &RiskConfig::default(), "from the sweep");
    document
        .parameters
        .gaen_mut()
        .unwrap()
        .notify_weighted_minutes = 20.0;
    authority
        .publish_risk_config(document.clone(), None, NOW)
        .unwrap();
    phone.download_key_files(&transport).unwrap();
    let held = phone.risk_config().unwrap().unwrap();
    assert_eq!((held.sequence, held.issued_at), (1, NOW));
    assert_eq!(held.note, "from the sweep");

    document.note = "second".into();
    authority
        .publish_risk_config(document, None, NOW + 60)
        .unwrap();
    let run = phone.download_all(&transport, &|| false);
    assert!(
        matches!(run.end, bluezone_core::DownloadEnd::Done),
        "{:?}",
        run.end
    );
    assert_eq!(phone.risk_config().unwrap().unwrap().sequence, 2);
}

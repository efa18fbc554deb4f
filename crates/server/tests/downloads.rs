//! Downloads ready for a CDN (cache headers, strong tags, `304`, `HEAD`, refusals never
//! cached), the operations endpoints and metrics, and `export`, the same tree in a folder.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use bluezone_server::export::{ExportError, export};
use bluezone_server::files::{FileStore, MemoryFileStore};
use bluezone_server::metrics::Metrics;
use bluezone_server::ops::ops_router;
use bluezone_server::serve::ServeLimits;
use bluezone_server::{AppState, AuthorityConfig};
use common::*;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

/// A server with one published file; its file store and metrics are kept for the test.
fn published() -> (Server, Arc<MemoryFileStore>, Arc<Metrics>, String) {
    let files = Arc::new(MemoryFileStore::default());
    let metrics = Arc::new(Metrics::new());
    let server = start_with(
        AuthorityConfig {
            min_keys_per_file: 20,
            ..AuthorityConfig::default()
        },
        files.clone(),
        ServeLimits::default(),
        |state| AppState {
            metrics: metrics.clone(),
            ..state
        },
    );
    server
        .authority
        .create_official("nurse.lan", "correct horse battery", NOW)
        .unwrap();
    let secret = [0x33; 32];
    let certificate = certificate_for(&server, &keys(), &secret);
    let (status, _) = publish(&server, &payload(&keys(), &secret, &certificate));
    assert_eq!(status, 200);
    let names = server.authority.publish_files(NOW + 60).unwrap();
    assert_eq!(names.len(), 1);
    let name = names[0].clone();
    (server, files, metrics, name)
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// `GET url` with `If-None-Match: tag`.
fn get_if_none_match(server: &Server, url: &str, tag: &str) -> ureq::http::Response<ureq::Body> {
    server
        .agent
        .get(url)
        .header("If-None-Match", tag)
        .call()
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn key_files_and_the_index_carry_cache_headers_and_answer_304() {
    let (server, files, _, name) = published();
    let bytes = files.get(&name).unwrap().unwrap();
    let url = format!("{}/v1/files/{name}", server.base);

    let mut response = server.agent.get(&url).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let tag = format!("\"{}\"", hex(&Sha256::digest(&bytes)));
    assert_eq!(header(&response, "etag"), tag);
    assert_eq!(
        header(&response, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&response, "content-type"), "application/zip");
    // Published at NOW + 60.
    assert_eq!(
        header(&response, "last-modified"),
        "Sun, 01 Nov 2026 11:01:00 GMT"
    );
    assert_eq!(response.body_mut().read_to_vec().unwrap(), bytes);

    let mut response = get_if_none_match(&server, &url, &tag);
    assert_eq!(response.status().as_u16(), 304);
    assert_eq!(header(&response, "etag"), tag);
    assert_eq!(
        header(&response, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(response.body_mut().read_to_vec().unwrap().is_empty());
    let response = get_if_none_match(&server, &url, "\"another\"");
    assert_eq!(response.status().as_u16(), 200);

    let mut response = server.agent.head(&url).call().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "etag"), tag);
    assert_eq!(header(&response, "content-length"), bytes.len().to_string());
    assert!(response.body_mut().read_to_vec().unwrap().is_empty());

    let index_url = format!("{}/v1/index.txt", server.base);
    let mut response = server.agent.get(&index_url).call().unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    assert_eq!(text, format!("{name}\n"));
    let index_tag = format!("\"{}\"", hex(&Sha256::digest(text.as_bytes())));
    assert_eq!(header(&response, "etag"), index_tag);
    assert_eq!(header(&response, "cache-control"), "public, max-age=300");
    assert_eq!(
        header(&response, "content-type"),
        "text/plain; charset=utf-8"
    );
    let response = get_if_none_match(&server, &index_url, &index_tag);
    assert_eq!(response.status().as_u16(), 304);
    let mut response = server.agent.head(&index_url).call().unwrap();
    assert_eq!(header(&response, "etag"), index_tag);
    assert!(response.body_mut().read_to_vec().unwrap().is_empty());

    // A new file changes the index's tag: a cache holding the old one gets the new list.
    let secret = [0x44; 32];
    let mut others = keys();
    for key in &mut others {
        key.key_data[15] = 0xee;
    }
    let certificate = certificate_for(&server, &others, &secret);
    let (status, _) = publish(&server, &payload(&others, &secret, &certificate));
    assert_eq!(status, 200);
    assert_eq!(server.authority.publish_files(NOW + 120).unwrap().len(), 1);
    let mut response = get_if_none_match(&server, &index_url, &index_tag);
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .body_mut()
            .read_to_string()
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn refusals_are_json_and_never_cached() {
    let (server, _, _, _) = published();
    for path in ["/v1/files/nope.zip", "/v1/files/..%2Fsecret", "/nowhere"] {
        let mut response = server
            .agent
            .get(format!("{}{path}", server.base))
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-store", "{path}");
        assert!(header(&response, "etag").is_empty(), "{path}");
        let body: serde_json::Value =
            serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
        assert!(body["code"].is_string(), "{path}");
    }
}

#[test]
fn health_readiness_and_metrics() {
    let (server, _, metrics, _) = published();
    for path in ["/healthz", "/readyz"] {
        let (status, body) = server.call("GET", path, None, b"");
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    }
    server.call("GET", "/v1/files/nope.zip", None, b"");
    server.call("GET", "/v1/files/nope2.zip", None, b"");
    let (status, _) = server.call("GET", "/metrics", None, b"");
    assert_eq!(status, 404, "metrics are not on the public port");

    let state = AppState {
        metrics: metrics.clone(),
        ..AppState::new(server.authority.clone(), Arc::new(|| NOW))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = runtime.block_on(async {
        let response = ops_router(state)
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    });
    for line in [
        "bluezone_uploads_accepted_total 1",
        "bluezone_refusals_total{code=\"file_not_found\"} 2",
        "bluezone_http_requests_total{route=\"/v1/files/{name}\",status=\"404\"} 2",
        "bluezone_http_requests_total{route=\"/v1/publish\",status=\"200\"} 1",
        "bluezone_http_requests_total{route=\"/readyz\",status=\"200\"} 1",
        "bluezone_http_requests_total{route=\"unmatched\",status=\"404\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
}

#[test]
fn a_sealed_refusal_is_counted_by_its_code() {
    let (server, _, metrics, _) = published();
    let (status, code) = server.error("/v1/verify", br#"{"code":"00000000"}"#);
    assert_eq!((status, code.as_str()), (400, "code_invalid"));
    let text = metrics.encode().unwrap();
    assert!(
        text.contains("bluezone_refusals_total{code=\"code_invalid\"} 1"),
        "{text}"
    );
    assert!(text.contains("bluezone_uploads_accepted_total 1"), "{text}");
}

#[test]
fn chaff_is_counted_apart_and_never_as_an_upload() {
    let (server, _, metrics, _) = published();
    let chaff = br#"{"chaff":true,"padding":""}"#;
    for path in ["/v1/verify", "/v1/certificate", "/v1/publish"] {
        let (status, _) = server.exchange(path, chaff);
        assert_eq!(status, 200, "{path}");
    }
    let text = metrics.encode().unwrap();
    for line in [
        "bluezone_chaff_requests_total{route=\"/v1/verify\"} 1",
        "bluezone_chaff_requests_total{route=\"/v1/certificate\"} 1",
        "bluezone_chaff_requests_total{route=\"/v1/publish\"} 1",
        // The one real upload `published()` made, not the chaff.
        "bluezone_uploads_accepted_total 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
}

#[test]
fn export_writes_the_served_tree_idempotently_and_verifies_files() {
    let (server, files, _, name) = published();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("origin");
    let now = NOW + 60;
    let report = export(&server.authority, now, &to, 120).unwrap();
    assert_eq!((report.files, report.written), (1, 1));
    let index = std::fs::read_to_string(to.join("v1/index.txt")).unwrap();
    assert_eq!(index, server.authority.index(now).unwrap());
    assert_eq!(
        std::fs::read(to.join("v1/files").join(&name)).unwrap(),
        files.get(&name).unwrap().unwrap()
    );
    let headers: serde_json::Value =
        serde_json::from_slice(&std::fs::read(to.join("headers.json")).unwrap()).unwrap();
    assert_eq!(
        headers["v1/index.txt"]["Cache-Control"],
        "public, max-age=120"
    );
    assert_eq!(
        headers["v1/index.txt"]["Content-Type"],
        "text/plain; charset=utf-8"
    );
    let file_headers = &headers[format!("v1/files/{name}")];
    assert_eq!(file_headers["Content-Type"], "application/zip");
    assert_eq!(
        file_headers["Cache-Control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        file_headers["ETag"],
        format!(
            "\"{}\"",
            hex(&Sha256::digest(files.get(&name).unwrap().unwrap()))
        )
    );

    // Again: nothing changes. A damaged copy is replaced, a file no longer indexed removed.
    let tree = |to: &std::path::Path| {
        let mut names: Vec<String> = walk(to);
        names.sort();
        names
    };
    let before = tree(&to);
    assert_eq!(export(&server.authority, now, &to, 120).unwrap().written, 0);
    assert_eq!(tree(&to), before);
    std::fs::write(to.join("v1/files").join(&name), b"damaged").unwrap();
    std::fs::write(to.join("v1/files/1000-00001.zip"), b"old").unwrap();
    let report = export(&server.authority, now, &to, 120).unwrap();
    assert_eq!(report.written, 1);
    assert_eq!(report.removed, ["1000-00001.zip"]);
    assert_eq!(tree(&to), before);

    // A source file altered since it was published is refused, and the tree is left as it was.
    files.remove(&name).unwrap();
    files.put_new(&name, b"not what was published").unwrap();
    let error = export(&server.authority, now, &to, 120).unwrap_err();
    assert!(matches!(error, ExportError::Altered { .. }), "{error}");
    assert_eq!(
        std::fs::read_to_string(to.join("v1/index.txt")).unwrap(),
        index
    );
    assert_eq!(tree(&to), before);
}

/// Every file under `dir`, relative, with its length.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(
                walk(&entry.path())
                    .into_iter()
                    .map(|p| format!("{}/{p}", entry.file_name().to_string_lossy())),
            );
        } else {
            out.push(format!(
                "{} {}",
                entry.file_name().to_string_lossy(),
                entry.metadata().unwrap().len()
            ));
        }
    }
    out
}

#[test]
fn the_risk_configuration_is_served_signed_with_a_strong_tag_or_404() {
    use bluezone_protocol::keyfile::TrustedKeys;
    use bluezone_protocol::risk::RiskConfig;
    use bluezone_protocol::risk_config::{RiskConfigDocument, read_risk_config};

    let (server, _, _, _) = published();
    let url = format!("{}/v1/risk-config.json", server.base);
    let response = server.agent.get(&url).call().unwrap();
    assert_eq!(response.status(), 404, "none published");

    let document = RiskConfigDocument::new(0, 0, &RiskConfig::default(), "from the sweep");
    server
        .authority
        .publish_risk_config(document, None, NOW)
        .unwrap();
    let mut response = server.agent.get(&url).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(header(&response, "cache-control"), "public, max-age=300");
    let tag = header(&response, "etag");
    let body = response.body_mut().read_to_vec().unwrap();
    assert_eq!(tag, format!("\"{}\"", hex(&Sha256::digest(&body))));
    let trusted = TrustedKeys::single(server.authority.file_signer().trusted_key());
    let verified = read_risk_config(&body, &trusted).unwrap();
    assert_eq!(verified.document.sequence, 1);
    assert_eq!(verified.document.note, "from the sweep");
    assert_eq!(get_if_none_match(&server, &url, &tag).status(), 304);

    // Exported beside the index, with the same headers.
    let dir = tempfile::tempdir().unwrap();
    export(&server.authority, NOW + 60, dir.path(), 300).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("v1/risk-config.json")).unwrap(),
        body
    );
    let headers: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("headers.json")).unwrap()).unwrap();
    assert_eq!(headers["v1/risk-config.json"]["ETag"], tag);
    assert_eq!(
        headers["v1/risk-config.json"]["Content-Type"],
        "application/json"
    );
}

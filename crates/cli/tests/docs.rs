//! The documents kept true with the code: the architecture document names every workspace
//! member and the real dependency graph; the protocol document lists every refusal code with
//! the status the server sends it with.

#[test]
fn every_workspace_member_is_in_the_architecture_document() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).expect("Cargo.toml");
    let architecture =
        std::fs::read_to_string(format!("{root}/docs/ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let members_line = manifest
        .lines()
        .find(|l| l.starts_with("members"))
        .expect("a members list");
    let members: Vec<&str> = members_line.split('"').skip(1).step_by(2).collect();
    assert!(members.len() >= 5, "{members:?}");
    for member in members {
        assert!(
            architecture.contains(&format!("`{member}`")),
            "docs/ARCHITECTURE.md does not describe {member}"
        );
    }
}

/// The dependency table in docs/ARCHITECTURE.md is the workspace's real graph: every edge
/// between workspace crates (normal dependencies) that `cargo metadata` reports is listed,
/// and nothing else.
#[test]
fn the_dependency_table_in_the_architecture_document_is_the_real_graph() {
    use std::collections::{BTreeMap, BTreeSet};
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let architecture =
        std::fs::read_to_string(format!("{root}/docs/ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let documented: BTreeMap<String, BTreeSet<String>> = architecture
        .lines()
        .filter(|l| l.starts_with("| `bluezone-"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').collect();
            let crate_name = names(cells[1]).into_iter().next().expect("a crate name");
            (crate_name, names(cells[2]))
        })
        .collect();

    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{out:?}");
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let members: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_owned())
        .collect();
    let real: BTreeMap<String, BTreeSet<String>> = packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| members.contains(*d))
                .map(str::to_owned)
                .collect();
            (p["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect();
    assert_eq!(documented, real, "docs/ARCHITECTURE.md's dependency table");
}

/// The refusal-code table in docs/PROTOCOL.md is exactly `RefusalCode::ALL`, in order, with
/// the HTTP status the server sends each with.
#[test]
fn the_refusal_codes_in_the_protocol_document_are_the_real_ones() {
    use bluezone_protocol::refusal::RefusalCode;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let protocol =
        std::fs::read_to_string(format!("{root}/docs/PROTOCOL.md")).expect("PROTOCOL.md");
    let documented: Vec<(String, u16)> = protocol
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(2)?.parse().ok()?;
            Some((code.to_owned(), status))
        })
        .collect();
    let real: Vec<(String, u16)> = RefusalCode::ALL
        .iter()
        .map(|&c| {
            (
                c.as_str().to_owned(),
                bluezone_server::error::http_status(c).as_u16(),
            )
        })
        .collect();
    assert_eq!(documented, real);
}

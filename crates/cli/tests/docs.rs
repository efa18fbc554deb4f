//! The architecture document names every workspace member (it is kept true with the code).

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

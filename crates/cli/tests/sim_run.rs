//! `bluezone sim run | sweep | check`, end to end through the real binary: the README's main
//! job on the bundled supermarket, and the errors a QA engineer sees for a broken scenario.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use bluezone_testkit::cli::Cli;

fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_bluezone"))
}

const SUPERMARKET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/supermarket.toml"
);

#[test]
fn the_main_job_writes_a_reproducible_report_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let stdout = cli().ok(&[
            "sim",
            "run",
            SUPERMARKET,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(
            stdout.starts_with("Supermarket on a Saturday: 88 people, 2 positive."),
            "{stdout}"
        );
        assert!(stdout.contains("report.md"));
    }
    let report = std::fs::read(a.join("report.json")).unwrap();
    assert_eq!(report, std::fs::read(b.join("report.json")).unwrap());
    for plot in [
        "attenuation-vs-distance.svg",
        "detections-over-time.svg",
        "confusion-matrix.svg",
    ] {
        let svg = std::fs::read_to_string(a.join(plot)).unwrap();
        assert!(svg.starts_with("<svg"), "{plot}");
    }
    let md = std::fs::read_to_string(a.join("report.md")).unwrap();
    assert!(md.contains("# Supermarket on a Saturday") && md.contains("| floor-staff#1 |"));
}

#[test]
fn a_sweep_adds_the_curves() {
    let dir = tempfile::tempdir().unwrap();
    let run = cli().run(&[
        "sim",
        "sweep",
        SUPERMARKET,
        "--out",
        dir.path().to_str().unwrap(),
        "--quiet",
        "--seed",
        "4",
    ]);
    assert!(run.status.success(), "{run:?}");
    assert!(
        String::from_utf8(run.stdout)
            .unwrap()
            .contains("swept 120 risk parameter sets")
    );
    let sweep: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("sweep.json")).unwrap()).unwrap();
    // GAEN's 60 points, then CWA's 60.
    assert_eq!(sweep.len(), 120);
    assert_eq!(sweep[0]["model"], "gaen-daily-summaries");
    assert_eq!(sweep[60]["model"], "cwa");
    assert!(dir.path().join("roc.svg").exists());
    assert!(dir.path().join("precision-recall.svg").exists());
    // The recommended point, ready for `bluezone server risk-config --set`.
    let document: bluezone_protocol::risk_config::RiskConfigDocument =
        serde_json::from_slice(&std::fs::read(dir.path().join("risk-config.json")).unwrap())
            .unwrap();
    document.validate().unwrap();
    assert!(document.note.contains("precision"), "{}", document.note);
    let parameters = document.parameters.gaen().unwrap();
    let chosen = sweep.iter().any(|p| {
        p["model"] == "gaen-daily-summaries"
            && p["notify_minutes"].as_f64() == Some(parameters.notify_weighted_minutes)
            && p["attenuation_thresholds_db"][0].as_u64()
                == Some(u64::from(parameters.attenuation_thresholds_db[0]))
    });
    assert!(chosen, "a swept point");
    // CWA's recommended point, in CWA's model.
    let cwa: bluezone_protocol::risk_config::RiskConfigDocument =
        serde_json::from_slice(&std::fs::read(dir.path().join("risk-config-cwa.json")).unwrap())
            .unwrap();
    cwa.validate().unwrap();
    assert_eq!(cwa.model, "cwa");
    assert!(cwa.note.contains("F1"), "{}", cwa.note);
    let md = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
    assert!(md.contains("## Best point of each model"));
}

#[test]
fn broken_scenarios_name_the_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    let text = std::fs::read_to_string(SUPERMARKET)
        .unwrap()
        .replace("speed_mps = 0.9", "speed_mps = 9.0");
    std::fs::write(&path, text).unwrap();
    let check = cli().run(&["sim", "check", path.to_str().unwrap()]);
    assert!(!check.status.success());
    let stderr = String::from_utf8(check.stderr).unwrap();
    assert!(
        stderr.contains("broken.toml: line 55, people[3].movement.speed_mps: 0.1 to 3 m/s"),
        "{stderr}"
    );
    let good = cli().run(&["sim", "check", SUPERMARKET]);
    assert!(good.status.success());
    assert!(
        String::from_utf8(good.stdout)
            .unwrap()
            .contains("valid. 88 people in 6 groups")
    );
    let missing = cli().run(&["sim", "run", "nowhere.toml", "--out", "x"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8(missing.stderr)
            .unwrap()
            .contains("cannot read nowhere.toml")
    );
    let step = cli().run(&["sim", "run", SUPERMARKET, "--out", "x", "--step", "60"]);
    assert_eq!(step.status.code(), Some(2));
}

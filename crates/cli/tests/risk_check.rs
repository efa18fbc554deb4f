//! `bluezone risk check` through the real binary on CWA's published test cases: all pass with
//! iOS's arithmetic, the one rounding-dependent case fails with Android's, a wrong
//! expectation is reported by case and field with a non-zero exit, and a malformed file is
//! refused naming the case and the field.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use bluezone_testkit::cli::Cli;

const CASES: &str = "../protocol/tests/fixtures/cwa/exposure-windows-risk-calculation.json";

fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_bluezone"))
}

fn cases() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(CASES).unwrap()).unwrap()
}

fn check(file: &std::path::Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["risk", "check", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = cli().run(&args);
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn cwas_published_cases_pass_and_failures_are_named() {
    let published = std::path::Path::new(CASES);
    let (code, out, _) = check(published, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out, "28 passed, 0 failed\n");

    // Android rounds a day's normalized time to one decimal: 14.98 becomes 15, high.
    let (code, out, _) = check(published, &["--platform", "android"]);
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("FAIL testCases[8] \"identify Exposure Window as Low Risk")
            && lines[0].contains("expTotalRiskLevel expected 1, got 2"),
        "{out}"
    );
    assert_eq!(lines[1], "27 passed, 1 failed");

    // A wrong expectation fails that case, by name and field.
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = cases();
    wrong["testCases"][3]["expNumberOfDaysWithLowRisk"] = 7.into();
    let path = dir.path().join("wrong.json");
    std::fs::write(&path, serde_json::to_vec(&wrong).unwrap()).unwrap();
    let (code, out, _) = check(&path, &[]);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("FAIL testCases[3] ")
            && out.contains("expNumberOfDaysWithLowRisk expected 7"),
        "{out}"
    );
    assert!(out.ends_with("27 passed, 1 failed\n"), "{out}");
}

#[test]
fn malformed_files_are_refused_naming_the_case_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, value: &serde_json::Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
        path
    };
    let mut unknown = cases();
    unknown["testCases"][2]["exposureWindows"][0]["scanInstances"][0]["rssi"] = 1.into();
    let mut out_of_range = cases();
    out_of_range["testCases"][5]["exposureWindows"][0]["reportType"] = 9.into();
    let mut bad_config = cases();
    bad_config["defaultRiskCalculationConfiguration"]["minutesAtAttenuationWeights"][0]["weight"] =
        (-1).into();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, b"{\"testCases\": [").unwrap();
    for (path, names) in [
        (
            write("unknown.json", &unknown),
            vec!["testCases[2]", "scanInstances[0]", "rssi"],
        ),
        (
            write("range.json", &out_of_range),
            vec!["testCases[5]", "reportType"],
        ),
        (
            write("config.json", &bad_config),
            vec!["minutesAtAttenuationWeights", "weight"],
        ),
        (bad_json, vec!["bad.json"]),
    ] {
        let (code, out, err) = check(&path, &[]);
        assert_eq!(code, Some(1), "{path:?}");
        assert!(out.is_empty(), "{out}");
        for name in names {
            assert!(err.contains(name), "{name} not in {err}");
        }
    }
    let (code, _, err) = check(&dir.path().join("missing.json"), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("cannot read"), "{err}");
}

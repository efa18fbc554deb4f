//! `bluezone bench radio`: the driver's radio budget per profile, against the 2020 app.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use bluezone_testkit::cli::Cli;

#[test]
fn the_radio_budget_covers_every_profile_and_holds_the_wake_lock_only_while_scanning() {
    let stdout = Cli::new(env!("CARGO_BIN_EXE_bluezone")).ok(&["bench", "radio", "--hours", "6"]);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| profile"))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 8, "{stdout}");
    let number = |cell: &str| cell.trim_end_matches(" %").parse::<f64>().unwrap();
    let android = &rows[0];
    assert_eq!(android[0], "Android, screen off");
    // Scanning about 4 s every 4 to 5 minutes, and the CPU held awake for those seconds only.
    let scan_seconds_per_hour = number(android[1]) * 36.0;
    assert!((1.0..3.0).contains(&number(android[1])), "{stdout}");
    assert!(
        (number(android[4]) - scan_seconds_per_hour).abs() < 2.0,
        "{stdout}"
    );
    let ratio = stdout
        .lines()
        .find_map(|l| l.strip_prefix("scan_on_time_ratio_android_screen_off_vs_2020="))
        .unwrap();
    assert!(ratio.parse::<f64>().unwrap() < 0.2, "{stdout}");
}

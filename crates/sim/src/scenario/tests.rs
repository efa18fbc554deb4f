use super::*;

const BUNDLED: [(&str, &str); 6] = [
    (
        "district-market",
        include_str!("../../../../scenarios/district-market.toml"),
    ),
    (
        "supermarket",
        include_str!("../../../../scenarios/supermarket.toml"),
    ),
    ("office", include_str!("../../../../scenarios/office.toml")),
    (
        "wet-market",
        include_str!("../../../../scenarios/wet-market.toml"),
    ),
    ("bus", include_str!("../../../../scenarios/bus.toml")),
    ("clinic", include_str!("../../../../scenarios/clinic.toml")),
];

#[test]
fn every_bundled_scenario_parses() {
    for (name, text) in BUNDLED {
        let scenario = Scenario::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!scenario.people.is_empty(), "{name}");
        assert!(!scenario.events.is_empty(), "{name}");
    }
    let market = Scenario::parse(BUNDLED[1].1).unwrap();
    assert_eq!(
        Scenario::parse(BUNDLED[0].1).unwrap().person_names().len(),
        2_000
    );
    let names = market.person_names();
    assert_eq!(names.len(), 1 + 1 + 4 + 40 + 12 + 30);
    assert_eq!(names[0], "cashier-a");
    assert_eq!(names[2], "floor-staff#1");
    assert_eq!(market.place.shelves.len(), 3);
}

fn error_of(text: &str) -> ScenarioError {
    Scenario::parse(text).unwrap_err()
}

const SMALL: &str = r#"name = "small"
date = "2026-11-07"

[place]
width_m = 10.0
depth_m = 10.0

[[people]]
name = "a"
phone = { os = "android", model = "x" }
present = { from = "08:00", to = "09:00" }
movement = { kind = "stay", at = [1.0, 1.0] }

[[events]]
day = 1
at = "10:00"
person = "a"
kind = "tests_positive"
"#;

#[test]
fn errors_name_the_line_and_the_field() {
    Scenario::parse(SMALL).unwrap();
    let cases = [
        (
            SMALL.replace("width_m = 10.0", "widht_m = 10.0"),
            5,
            "widht_m",
        ),
        (
            SMALL.replace("\"09:00\"", "\"9am\""),
            11,
            "people[0].present.to",
        ),
        (
            SMALL.replace("to = \"09:00\"", "to = \"07:00\""),
            11,
            "people[0].present.to",
        ),
        (
            SMALL.replace("at = [1.0, 1.0]", "at = [11.0, 1.0]"),
            12,
            "people[0].movement.at",
        ),
        (
            SMALL.replace("person = \"a\"", "person = \"b\""),
            17,
            "events[0].person",
        ),
        (SMALL.replace("day = 1", "day = 2"), 15, "events[0].day"),
        (
            SMALL.replace("date = \"2026-11-07\"", "date = \"7/11/2026\""),
            2,
            "date",
        ),
        (
            SMALL.replace("os = \"android\"", "os = \"symbian\""),
            10,
            "unknown variant `symbian`",
        ),
    ];
    for (text, line, fragment) in cases {
        let e = error_of(&text);
        assert_eq!(e.line, line, "{fragment}: {e}");
        assert!(e.to_string().contains(fragment), "{fragment}: {e}");
    }
}

#[test]
fn settings_tables_and_new_movements_are_checked_too() {
    let with = |table: &str| SMALL.replace("[[events]]", &format!("{table}\n\n[[events]]"));
    let schedule = SMALL.replace(
        r#"movement = { kind = "stay", at = [1.0, 1.0] }"#,
        r#"movement = { kind = "schedule", steps = [
  { from = "08:00", to = "08:30", movement = { kind = "stay", at = [1.0, 1.0], spread_m = 0.5 } },
  { from = "08:30", to = "09:00", movement = { kind = "random_walk", area = [[1.0, 1.0], [9.0, 9.0]], speed_mps = 1.0, dwell_s = [10, 60], finish = { at = [5.0, 5.0], spread_m = 1.0, dwell_s = [60, 120] } } },
] }"#,
    );
    let parsed = Scenario::parse(&schedule).unwrap();
    assert!(matches!(
        parsed.people[0].movement.get_ref(),
        Movement::Schedule { steps } if steps.len() == 2
    ));
    let good = with(
        "[risk]\nnotify_minutes = 10.0\n\n[truth]\ndistance_m = 1.5\n\n[radio]\nfar_exponent = 3.0\n\n[policies.ios]\nscan_duty = 1.0",
    );
    let parsed = Scenario::parse(&good).unwrap();
    assert_eq!(parsed.risk().notify_minutes, Some(10.0));
    assert_eq!(parsed.truth().distance_m, 1.5);
    assert_eq!(parsed.truth().minutes, 15.0);
    assert_eq!(parsed.radio().far_exponent, 3.0);
    assert_eq!(parsed.radio().pocket_loss_db, 3.0);
    assert_eq!(parsed.policies().ios.scan_duty, 1.0);
    assert!(parsed.policies().ios.background_coalesces);
    assert!(parsed.driver().gatt_fallback);
    let extra = with("[driver]\ngatt_fallback = false\n\n[policies.android]\ngatt_success = 0.5");
    let parsed = Scenario::parse(&extra).unwrap();
    assert!(!parsed.driver().gatt_fallback);
    assert_eq!(parsed.policies().android.gatt_success, 0.5);
    let cases = [
        (with("[radio]\npacket_loss = 2.0"), "radio.packet_loss"),
        (with("[radio]\npaket_loss = 0.1"), "paket_loss"),
        (
            with("[policies.android]\ngatt_latency_s = [3.0, 1.0]"),
            "policies.android.gatt_latency_s",
        ),
        (with("[truth]\nminutes = 0.0"), "truth.minutes"),
        (
            SMALL.replace(
                "kind = \"tests_positive\"",
                "kind = \"tests_positive\"\nenters_code_after_minutes = 20000",
            ),
            "events[0].enters_code_after_minutes",
        ),
        (
            with("[risk]\nattenuation_thresholds_db = [60, 50, 70]"),
            "risk.attenuation_thresholds_db",
        ),
        (
            schedule.replace(r#"to = "08:30", movement"#, r#"to = "08:45", movement"#),
            "people[0].movement.steps[1]",
        ),
        (
            schedule.replace("spread_m = 0.5", "spread_m = 5.0"),
            "people[0].movement.steps[0].movement.spread_m",
        ),
        (
            schedule.replace(
                "at = [5.0, 5.0], spread_m = 1.0",
                "at = [5.0, 5.0], spread_m = 9.0",
            ),
            "people[0].movement.steps[1].movement.finish",
        ),
    ];
    for (text, fragment) in cases {
        let e = error_of(&text);
        assert!(e.to_string().contains(fragment), "{fragment}: {e}");
        assert!(e.line > 1, "{fragment}: {e}");
    }
}

#[test]
fn times_and_dates() {
    assert_eq!(minutes_of("08:30"), Some(510));
    assert_eq!(minutes_of("24:00"), Some(1440));
    assert_eq!(minutes_of("24:01"), None);
    assert_eq!(minutes_of("8:30"), None);
    assert_eq!(days_of("2026-11-07"), Some(20_764));
    assert_eq!(days_of("2026-13-01"), None);
    assert_eq!(days_of("2026-02-30"), None, "a date that does not exist");
    assert_eq!(days_of("2019-12-31"), None, "before 2020");
}

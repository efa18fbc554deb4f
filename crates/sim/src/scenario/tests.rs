use super::*;

const BUNDLED: [(&str, &str); 5] = [
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
    let market = Scenario::parse(BUNDLED[0].1).unwrap();
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
fn times_and_dates() {
    assert_eq!(minutes_of("08:30"), Some(510));
    assert_eq!(minutes_of("24:00"), Some(1440));
    assert_eq!(minutes_of("24:01"), None);
    assert_eq!(minutes_of("8:30"), None);
    assert_eq!(days_of("2026-11-07"), Some(20_764));
    assert_eq!(days_of("2026-13-01"), None);
}

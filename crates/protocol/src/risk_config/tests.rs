//! The signed risk configuration: round trip, what a tampered, foreign, replayed or invalid
//! file gets, and the rollback rule.

#![allow(clippy::unwrap_used)] // Test code.

use super::*;
use crate::keyfile::TrustedKeys;
use p256::ecdsa::SigningKey;

fn signer(byte: u8) -> KeyFileSigner {
    KeyFileSigner::new("452", "v1", SigningKey::from_slice(&[byte; 32]).unwrap())
}

fn trusted() -> TrustedKeys {
    TrustedKeys::single(signer(0x23).trusted_key())
}

fn document() -> RiskConfigDocument {
    let risk = RiskConfig {
        attenuation_thresholds_db: [55, 63, 70],
        notify_score: 600.0,
        ..RiskConfig::default()
    };
    RiskConfigDocument::new(3, 1_793_491_200, &risk, "thresholds from the 2026-11 sweep")
}

#[test]
fn a_signed_configuration_reads_back_and_applies() {
    let file = write_risk_config(&document(), &signer(0x23)).unwrap();
    let read = read_risk_config(&file, &trusted()).unwrap();
    assert_eq!(read.document, document());
    assert_eq!(read.signer, "452-v1");
    let applied = read
        .document
        .parameters
        .gaen()
        .unwrap()
        .apply_to(&RiskConfig::default());
    assert_eq!(applied.attenuation_thresholds_db, [55, 63, 70]);
    assert_eq!(applied.notify_score, 600.0);
    assert_eq!(
        applied.max_window_secs,
        RiskConfig::default().max_window_secs
    );
    // Publishing the defaults and applying them changes nothing.
    let defaults = GaenParameters::from_risk(&RiskConfig::default());
    assert_eq!(
        defaults.apply_to(&RiskConfig::default()),
        RiskConfig::default()
    );
}

#[test]
fn a_file_someone_else_signed_or_changed_is_refused() {
    let file = write_risk_config(&document(), &signer(0x99)).unwrap();
    assert!(matches!(
        read_risk_config(&file, &trusted()),
        Err(RiskConfigError::BadSignature(_))
    ));
    // Change the document inside a good envelope: the signature no longer covers it.
    let good = write_risk_config(&document(), &signer(0x23)).unwrap();
    let envelope: Envelope = serde_json::from_slice(&good).unwrap();
    let signed = Base64::decode_vec(&envelope.config).unwrap();
    let doc = String::from_utf8(signed.clone())
        .unwrap()
        .replace("\"sequence\":3", "\"sequence\":4")
        .into_bytes();
    assert_ne!(doc, signed);
    let tampered = serde_json::to_vec(&Envelope {
        config: Base64::encode_string(&doc),
        signatures: envelope.signatures,
    })
    .unwrap();
    assert!(matches!(
        read_risk_config(&tampered, &trusted()),
        Err(RiskConfigError::BadSignature(_))
    ));
}

#[test]
fn a_key_file_signature_is_not_a_configuration_signature() {
    // The authority signs key files' export.bin; a document's bytes signed that way (no
    // prefix) must not verify as a configuration.
    let bytes = serde_json::to_vec(&document()).unwrap();
    let replayed = serde_json::to_vec(&Envelope {
        config: Base64::encode_string(&bytes),
        signatures: Base64::encode_string(&signer(0x23).signature_list(&bytes, 1, 1)),
    })
    .unwrap();
    assert!(matches!(
        read_risk_config(&replayed, &trusted()),
        Err(RiskConfigError::BadSignature(_))
    ));
    // Nor can a configuration's signature pass for a key file's: a key file's export.bin
    // begins with its own header, the signed bytes here with the prefix.
    assert!(!SIGNED_PREFIX.starts_with(b"EK Export"));
}

#[test]
fn malformed_and_oversized_files_are_refused_without_panicking() {
    for file in [
        &b""[..],
        b"{}",
        b"[1,2]",
        b"{\"config\":\"!!\",\"signatures\":\"\"}",
    ] {
        assert!(
            matches!(
                read_risk_config(file, &trusted()),
                Err(RiskConfigError::Malformed(_))
            ),
            "{file:?}"
        );
    }
    let big = vec![b' '; MAX_FILE_BYTES + 1];
    assert_eq!(
        read_risk_config(&big, &trusted()),
        Err(RiskConfigError::TooLarge(MAX_FILE_BYTES + 1))
    );
}

/// Signs `document` as JSON text without validating it (as a careless or hostile tool
/// might), so the reader's own checks are what refuse it.
fn signed_text(document: &str) -> Vec<u8> {
    let bytes = document.as_bytes();
    serde_json::to_vec(&Envelope {
        config: Base64::encode_string(bytes),
        signatures: Base64::encode_string(&signer(0x23).signature_list(&signed_bytes(bytes), 1, 1)),
    })
    .unwrap()
}

#[test]
fn a_signed_but_invalid_document_names_its_field() {
    let good = serde_json::to_value(document()).unwrap();
    let cases: [(&str, serde_json::Value, &str); 7] = [
        (
            "parameters.attenuation_thresholds_db",
            serde_json::json!([60, 55, 70]),
            "attenuation_thresholds_db",
        ),
        (
            "parameters.attenuation_weights",
            serde_json::json!([1.0, 0.5, 3.0, 0.0]),
            "attenuation_weights",
        ),
        (
            "parameters.report_type_weights",
            serde_json::json!([0.0, -1.0, 1.0, 0.0, 0.0, 0.0]),
            "report_type_weights",
        ),
        (
            "parameters.days_to_consider",
            serde_json::json!(15),
            "days_to_consider",
        ),
        (
            "parameters.notify_weighted_minutes",
            serde_json::json!(0.0),
            "notify_weighted_minutes",
        ),
        (
            "parameters.minimum_window_weighted_minutes",
            serde_json::json!(31.0),
            "minimum_window_weighted_minutes",
        ),
        ("sequence", serde_json::json!(0), "sequence"),
    ];
    for (path, value, field) in cases {
        let mut doc = good.clone();
        let mut slot = &mut doc;
        for part in path.split('.') {
            slot = &mut slot[part];
        }
        *slot = value;
        let err = read_risk_config(&signed_text(&doc.to_string()), &trusted()).unwrap_err();
        assert!(
            matches!(err, RiskConfigError::OutOfRange { field: f, .. } if f == field),
            "{path}: {err:?}"
        );
    }
    let mut unknown = good.clone();
    unknown["parameters"]["surprise"] = serde_json::json!(1);
    let err = read_risk_config(&signed_text(&unknown.to_string()), &trusted()).unwrap_err();
    assert!(
        matches!(&err, RiskConfigError::Document(m) if m.contains("surprise")),
        "{err:?}"
    );
    let mut model = good.clone();
    model["model"] = serde_json::json!("cwa");
    assert!(matches!(
        read_risk_config(&signed_text(&model.to_string()), &trusted()),
        Err(RiskConfigError::Document(_))
    ));
    // Nothing invalid is ever signed by the writer either.
    let mut bad = document();
    bad.parameters.gaen_mut().unwrap().days_to_consider = 0;
    assert!(write_risk_config(&bad, &signer(0x23)).is_err());
}

#[test]
fn only_a_higher_sequence_replaces_the_held_configuration() {
    assert!(is_newer(None, 1));
    assert!(is_newer(Some(3), 4));
    assert!(!is_newer(Some(3), 3));
    assert!(!is_newer(Some(3), 2));
}

fn cwa_parameters() -> CwaParameters {
    let file: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/cwa/exposure-windows-risk-calculation.json"
    ))
    .unwrap();
    serde_json::from_value(file["defaultRiskCalculationConfiguration"].clone()).unwrap()
}

fn cwa_document() -> RiskConfigDocument {
    RiskConfigDocument::new_cwa(4, 1_793_491_200, cwa_parameters(), "CWA's test parameters")
}

#[test]
fn a_gaen_document_is_written_as_before() {
    let document = document();
    let parameters = serde_json::to_string(document.parameters.gaen().unwrap()).unwrap();
    assert_eq!(
        serde_json::to_string(&document).unwrap(),
        format!(
            r#"{{"format":"bluezone-risk-config/1","sequence":3,"issued_at":1793491200,"model":"gaen-daily-summaries","parameters":{parameters},"note":"thresholds from the 2026-11 sweep"}}"#
        )
    );
}

#[test]
fn a_cwa_configuration_round_trips_in_cwas_schema() {
    let file = write_risk_config(&cwa_document(), &signer(0x23)).unwrap();
    let read = read_risk_config(&file, &trusted()).unwrap();
    assert_eq!(read.document, cwa_document());
    assert_eq!(read.document.model, MODEL_CWA);
    assert_eq!(read.document.parameters.cwa(), Some(&cwa_parameters()));
    assert!(read.document.parameters.gaen().is_none());
    let json = serde_json::to_value(cwa_document()).unwrap();
    assert_eq!(
        json["parameters"]["trlEncoding"]["reportTypeOffsetConfirmedTest"],
        6
    );
    assert!(json["parameters"]["normalizedTimePerEWToRiskLevelMapping"].is_array());
}

#[test]
fn a_cwa_document_is_refused_by_field_by_model_and_for_unknown_fields() {
    let good = serde_json::to_value(cwa_document()).unwrap();
    let mut weight = good.clone();
    weight["parameters"]["minutesAtAttenuationWeights"][0]["weight"] = serde_json::json!(-1);
    let err = read_risk_config(&signed_text(&weight.to_string()), &trusted()).unwrap_err();
    assert!(
        matches!(
            err,
            RiskConfigError::OutOfRange {
                field: "minutesAtAttenuationWeights.weight",
                ..
            }
        ),
        "{err:?}"
    );
    let mut level = good.clone();
    level["parameters"]["normalizedTimePerDayToRiskLevelMapping"][1]["riskLevel"] =
        serde_json::json!(3);
    let err = read_risk_config(&signed_text(&level.to_string()), &trusted()).unwrap_err();
    assert!(
        matches!(
            err,
            RiskConfigError::OutOfRange {
                field: "normalizedTimePerDayToRiskLevelMapping.riskLevel",
                ..
            }
        ),
        "{err:?}"
    );
    for (place, at) in [
        ("parameters", &["parameters"][..]),
        ("nested", &["parameters", "trlEncoding"]),
        ("top", &[]),
    ] {
        let mut unknown = good.clone();
        let mut slot = &mut unknown;
        for part in at {
            slot = &mut slot[*part];
        }
        slot["surprise"] = serde_json::json!(1);
        let err = read_risk_config(&signed_text(&unknown.to_string()), &trusted()).unwrap_err();
        assert!(
            matches!(&err, RiskConfigError::Document(m) if m.contains("surprise")),
            "{place}: {err:?}"
        );
    }
    let mut gaen_model = good.clone();
    gaen_model["model"] = serde_json::json!(MODEL_GAEN_DAILY_SUMMARIES);
    assert!(matches!(
        read_risk_config(&signed_text(&gaen_model.to_string()), &trusted()),
        Err(RiskConfigError::Document(_))
    ));
    let mut other = good;
    other["model"] = serde_json::json!("nhs-covid-19");
    assert!(matches!(
        read_risk_config(&signed_text(&other.to_string()), &trusted()),
        Err(RiskConfigError::Document(_))
    ));
    // A document whose model and parameters disagree is never signed.
    let mut mixed = cwa_document();
    mixed.model = MODEL_GAEN_DAILY_SUMMARIES.to_owned();
    assert!(matches!(
        write_risk_config(&mixed, &signer(0x23)),
        Err(RiskConfigError::Document(_))
    ));
}

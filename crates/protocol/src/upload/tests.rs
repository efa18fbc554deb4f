use p256::ecdsa::SigningKey;
use rand::SeedableRng;

use super::*;

fn claims() -> CertificateClaims {
    CertificateClaims {
        report_type: ReportType::ConfirmedTest,
        symptom_onset_interval: Some(2_988_000),
        tek_hmac: [7; 32],
        issued_at: 1_793_500_000,
        expires_at: 1_793_500_900,
    }
}

#[test]
fn certificates_verify_only_as_issued_and_in_time() {
    let key = SigningKey::from_slice(&[5; 32]).unwrap();
    let cert = Certificate::issue(&claims(), &key);
    let vk = key.verifying_key();
    assert_eq!(cert.verify(vk, 1_793_500_100), Ok(claims()));
    assert_eq!(
        cert.verify(vk, 1_793_500_901),
        Err(UploadError::CertificateExpired)
    );
    assert_eq!(
        cert.verify(vk, 1_793_499_990),
        Err(UploadError::CertificateExpired)
    );
    assert!(cert.verify(vk, 1_793_499_996).is_ok(), "5 s of clock skew");
    for i in 0..cert.0.len() {
        let mut bad = cert.clone();
        bad.0[i] ^= 1;
        assert!(bad.verify(vk, 1_793_500_100).is_err(), "byte {i}");
    }
    let other = SigningKey::from_slice(&[6; 32]).unwrap();
    assert_eq!(
        cert.verify(other.verifying_key(), 1_793_500_100),
        Err(UploadError::BadCertificateSignature)
    );
    assert_eq!(
        Certificate(vec![1, 2, 3]).verify(vk, 0),
        Err(UploadError::MalformedCertificate)
    );
    let no_onset = CertificateClaims {
        symptom_onset_interval: None,
        ..claims()
    };
    assert_eq!(
        Certificate::issue(&no_onset, &key).verify(vk, 1_793_500_100),
        Ok(no_onset)
    );
}

#[test]
fn sealed_requests_open_only_unchanged_with_the_same_aad() {
    use crate::exchange::seal_request;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let server = UploadOpenKey::derive(&[0x33; 32]).unwrap();
    let (sealed, _) = seal_request(&server.public_key(), b"req-1", b"the keys", &mut rng).unwrap();
    let open = |aad: &[u8], body: &[u8]| server.open_request(aad, body).map(|(p, _)| p.to_vec());
    assert_eq!(open(b"req-1", &sealed).unwrap(), b"the keys");
    assert_eq!(open(b"req-2", &sealed), Err(UploadError::Unsealable));
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x80;
        assert_eq!(
            open(b"req-1", &bad),
            Err(UploadError::Unsealable),
            "byte {i}"
        );
    }
    assert_eq!(open(b"req-1", &sealed[..31]), Err(UploadError::Unsealable));
    let other = UploadOpenKey::derive(&[0x34; 32]).unwrap();
    assert!(other.open_request(b"req-1", &sealed).is_err());
    assert!(UploadOpenKey::derive(&[0; 31]).is_err());
    // Fresh randomness each time: the same body seals differently.
    assert_ne!(
        seal_request(&server.public_key(), b"req-1", b"the keys", &mut rng)
            .unwrap()
            .0,
        sealed
    );
    assert!(format!("{server:?}").contains("redacted"));
}

#[test]
fn codes_are_eight_digits_as_typed() {
    assert_eq!(
        VerificationCode::parse("1234 5678").unwrap().as_str(),
        "12345678"
    );
    assert_eq!(
        VerificationCode::parse("1234-5678").unwrap().as_str(),
        "12345678"
    );
    for bad in ["1234567", "123456789", "1234567a", "", "١٢٣٤٥٦٧٨"] {
        assert_eq!(
            VerificationCode::parse(bad),
            Err(UploadError::InvalidCode),
            "{bad}"
        );
    }
    assert!(!format!("{:?}", VerificationCode::parse("12345678").unwrap()).contains("1234"));
}

/// ECDSA also verifies `(r, n - s)`: a certificate re-encoded that way must be refused, and
/// both encodings name the same certificate.
#[test]
fn high_s_certificates_are_refused_and_ids_ignore_the_signature_encoding() {
    use p256::ecdsa::Signature;
    let key = SigningKey::from_slice(&[5; 32]).unwrap();
    let vk = key.verifying_key();
    let mut refused = 0;
    for issued_at in 0..16 {
        let claims = CertificateClaims {
            issued_at: 1_793_500_000 + issued_at,
            ..claims()
        };
        let cert = Certificate::issue(&claims, &key);
        let (body, sig) = cert.0.split_at(cert.0.len() - 64);
        let signature = Signature::from_slice(sig).unwrap();
        assert_eq!(signature.normalize_s(), signature, "issued in low-S form");
        let (r, s) = signature.split_scalars();
        let flipped = Signature::from_scalars(r.to_bytes(), (-s).to_bytes()).unwrap();
        let mut malleated = body.to_vec();
        malleated.extend_from_slice(&flipped.to_bytes());
        let malleated = Certificate(malleated);
        assert_ne!(malleated, cert);
        assert_eq!(
            malleated.verify(vk, 1_793_500_100),
            Err(UploadError::BadCertificateSignature)
        );
        assert_eq!(malleated.id(), cert.id());
        refused += 1;
    }
    assert_eq!(refused, 16);
    let other = Certificate::issue(
        &CertificateClaims {
            tek_hmac: [8; 32],
            ..claims()
        },
        &key,
    );
    assert_ne!(other.id(), Certificate::issue(&claims(), &key).id());
}

//! The one record of the foreign surface that holds a secret, a redeemed code's token,
//! prints it redacted, and the conversion from the core's record keeps it intact.

use bluezone_ffi::VerifiedCode;

#[test]
fn a_verified_code_prints_no_token() {
    let token = "c2VjcmV0LXRva2VuLTg3NjU0MzIx";
    let verified = VerifiedCode {
        token: token.into(),
        report_type: 1,
        symptom_onset_interval: Some(2_889_856),
    };
    let text = format!("{verified:?} {verified:#?}");
    assert!(
        text.contains("<redacted>") && text.contains("2889856"),
        "{text}"
    );
    assert!(!text.contains(token), "{text}");

    let core: bluezone_core::VerifiedCode = verified.clone().into();
    assert!(!format!("{core:?}").contains(token));
    assert_eq!(VerifiedCode::from(core), verified);
}

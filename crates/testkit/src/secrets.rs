//! Distinctive secret bytes, and the check that a text shows none of them.

use base64ct::{Base64, Encoding};

/// Distinctive secret bytes: `start`, `start + 1`, … (wrapping), so a leak of any part of
/// them is recognisable.
#[must_use]
pub fn secret<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start.wrapping_add(u8::try_from(i % 256).unwrap_or(0)))
}

/// Panics if `text` shows `secret` (at least 4 bytes) in any form a leak takes: hex (lower
/// and upper case), decimal as `Debug` prints bytes, base64, or the first four bytes in hex
/// or decimal.
///
/// # Panics
/// When one of the forms appears in `text`, naming it.
pub fn assert_hidden(text: &str, secret: &[u8]) {
    assert!(
        secret.len() >= 4,
        "a secret to look for is at least 4 bytes"
    );
    let decimal = format!("{secret:?}");
    let head = format!("{:?}", &secret[..4]);
    let forms = [
        hex::encode(secret),
        hex::encode_upper(secret),
        hex::encode(&secret[..4]),
        decimal.trim_matches(['[', ']']).to_owned(),
        head.trim_matches(['[', ']']).to_owned(),
        Base64::encode_string(secret),
    ];
    for form in forms {
        assert!(!text.contains(&form), "{text:?} shows {form:?}");
    }
}

/// Panics if `text` contains the secret string `secret` (a code, a token).
///
/// # Panics
/// When it does.
pub fn assert_hidden_text(text: &str, secret: &str) {
    assert!(!text.contains(secret), "{text:?} shows {secret:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_leak_is_caught() {
        let s = secret::<16>(0xF0);
        assert_eq!(s[0], 0xF0);
        assert_eq!(s[15], 0xFF);
        assert_hidden("<redacted>", &s);
        for leak in [
            hex::encode(s),
            hex::encode_upper(s),
            format!("x{}", hex::encode(&s[..4])),
            format!("{s:?}"),
            format!("{:?}", &s[..4]),
            Base64::encode_string(&s),
        ] {
            let caught = std::panic::catch_unwind(|| assert_hidden(&leak, &s));
            assert!(caught.is_err(), "{leak} not caught");
        }
        let caught = std::panic::catch_unwind(|| assert_hidden_text("code 12345678", "12345678"));
        assert!(caught.is_err());
    }
}

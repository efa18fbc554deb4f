//! Parsers for hex command-line arguments, with messages that say what was expected.

/// Parses exactly `N` bytes written as `2 * N` hex digits (an optional `0x` is allowed).
pub fn parse_hex_array<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let digits = text.trim();
    let digits = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .unwrap_or(digits);
    if let Some((pos, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "expected {} hex digits ({N} bytes), found {c:?} at position {}",
            2 * N,
            pos + 1
        ));
    }
    if digits.len() != 2 * N {
        return Err(format!(
            "expected {} hex digits ({N} bytes), got {}",
            2 * N,
            digits.len()
        ));
    }
    let bytes = hex::decode(digits).map_err(|e| e.to_string())?;
    bytes.try_into().map_err(|_| format!("expected {N} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exact_hex_in_any_case() {
        assert_eq!(parse_hex_array::<2>("aBcD"), Ok([0xab, 0xcd]));
        assert_eq!(parse_hex_array::<2>("0xabcd"), Ok([0xab, 0xcd]));
    }

    #[test]
    fn explains_what_is_wrong() {
        assert_eq!(
            parse_hex_array::<2>("abc"),
            Err("expected 4 hex digits (2 bytes), got 3".into())
        );
        assert_eq!(
            parse_hex_array::<2>("abzd"),
            Err("expected 4 hex digits (2 bytes), found 'z' at position 3".into())
        );
        assert!(parse_hex_array::<2>("").is_err());
        assert!(parse_hex_array::<2>("ab cd").is_err());
    }
}

//! Plain decimals (`1727.51`, `-3`, `.5`) parsed exactly without
//! `fast_float2`'s general path.

/// Exact powers of ten: every one up to 10^22 is a double.
const POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `text` as a double if it is a plain decimal (`1727.51`, `-3`, `.5`: an
/// optional `-`, then at most 15 digits with at most one `point`, `.` or a
/// decimal comma), else `None` (the caller then uses `fast_float2`, which
/// also takes exponents, `inf`, `NaN` and longer numbers).
///
/// The digits make an integer below 2^53 and the divisor is an exact power
/// of ten, so the one division is correctly rounded: the same double
/// `fast_float2` gives (the fast path of Clinger's algorithm, which it also
/// takes).
#[inline]
pub(super) fn plain_decimal(text: &[u8], point: u8) -> Option<f64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut dot = None;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                count += 1;
                if count > 15 {
                    return None;
                }
            }
            _ if byte == point && dot.is_none() => dot = Some(count),
            _ => return None,
        }
    }
    if count == 0 {
        return None;
    }
    // Below 2^53, so exact as a signed integer too, which converts in one
    // instruction where an unsigned one takes several.
    let value = (mantissa as i64) as f64 / POWERS_OF_TEN[count - dot.unwrap_or(count)];
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn plain_decimals_parse_as_fast_float2_parses_them(
            text in "-?[0-9]{0,9}(\\.[0-9]{0,9})?|[-+.0-9eE]{0,12}",
        ) {
            let ours = plain_decimal(text.as_bytes(), b'.');
            let theirs = fast_float2::parse::<f64, _>(text.as_bytes()).ok();
            // With a decimal comma, the same number written with one.
            let comma = text.replace('.', ",");
            proptest::prop_assert_eq!(
                plain_decimal(comma.as_bytes(), b',').map(f64::to_bits),
                ours.map(f64::to_bits)
            );
            if let Some(x) = ours {
                proptest::prop_assert_eq!(Some(x.to_bits()), theirs.map(f64::to_bits), "{}", text);
            }
        }
    }

    #[test]
    fn plain_decimals_take_the_fast_path_and_others_do_not() {
        assert_eq!(plain_decimal(b"1727.51", b'.'), Some(1727.51));
        assert_eq!(
            plain_decimal(b"-0.0", b'.').map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(plain_decimal(b".5", b'.'), Some(0.5));
        assert_eq!(plain_decimal(b"3.", b'.'), Some(3.0));
        assert_eq!(
            plain_decimal(b"0.1234567890123", b'.'),
            Some(0.1234567890123)
        );
        for other in [
            "",
            ".",
            "-",
            "1e3",
            "1.2.3",
            "+1",
            "nan",
            "1234567890123456",
            " 1",
        ] {
            assert_eq!(plain_decimal(other.as_bytes(), b'.'), None, "{other}");
        }
    }
}

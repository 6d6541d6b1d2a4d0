//! polars' order of floats as an integer order, and the median of the
//! middle values as polars interpolates it.

/// An integer whose order is polars' order of floats: negative below
/// positive, `-0.0` as `0.0`, every NaN above everything.
#[inline(always)]
pub(super) fn key(x: f64) -> u64 {
    if x.is_nan() {
        return u64::MAX;
    }
    let bits = (x + 0.0).to_bits();
    // Negative: all bits flipped; positive: the sign bit set.
    bits ^ (((bits as i64) >> 63) as u64 | 1 << 63)
}

/// The float of a [`key`] (a NaN for the NaN key).
pub(super) fn value(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// The ranks (0-based, in ascending order) of the middle values of `count` values.
pub(super) fn middle_ranks(count: u64) -> Vec<u64> {
    match count {
        0 => Vec::new(),
        n if n % 2 == 1 => vec![n / 2],
        n => vec![n / 2 - 1, n / 2],
    }
}

/// The median from the keys of the middle values (one or two), as polars
/// interpolates it.
pub(super) fn median_of(keys: &[u64]) -> Option<f64> {
    match keys {
        [] => None,
        [one] => Some(value(*one)),
        [lower, upper, ..] => {
            let (lower, upper) = (value(*lower), value(*upper));
            Some(if lower == upper {
                lower
            } else {
                0.5 * (upper - lower) + lower
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_floats_as_polars_does() {
        let ordered = [
            f64::NEG_INFINITY,
            -2.5,
            -1e-300,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
            f64::NAN,
        ];
        for pair in ordered.windows(2) {
            assert!(key(pair[0]) < key(pair[1]), "{pair:?}");
        }
        assert_eq!(key(-0.0), key(0.0));
        for x in [-2.5, 0.0, 3.0, f64::INFINITY] {
            assert_eq!(value(key(x)), x);
        }
        assert!(value(key(f64::NAN)).is_nan());
    }
}

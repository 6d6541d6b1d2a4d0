//! The text forms of a task's resources, read the same way by `#[task(memory
//! = "8G", time = "2h")]` at compile time and by `pipeline-core`'s
//! `Resources` (TOML, the API) at run time.

/// MiB of `8G`, `512M`, `1T`, `2048K` or a bare number of MiB (powers of
/// 1024, an optional `B` or `iB`, any case), as Slurm reads `--mem`; `None`
/// for anything else or a size below 1 MiB.
pub fn memory_mib(size: &str) -> Option<u64> {
    let text = size.trim();
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let number: u64 = text[..digits].parse().ok()?;
    let unit = text[digits..].trim().to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let kib = match unit {
        "K" => number,
        "" | "M" => number.checked_mul(1 << 10)?,
        "G" => number.checked_mul(1 << 20)?,
        "T" => number.checked_mul(1 << 30)?,
        _ => return None,
    };
    Some(kib.div_ceil(1 << 10)).filter(|mib| *mib > 0)
}

/// Seconds of `90s`, `30m`, `2h30m`, `1d12h` (units `d`, `h`, `m`, `s`, each
/// at most once, largest first) or of Slurm's forms (bare minutes, `MM:SS`,
/// `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`); `None` for anything else or
/// zero.
pub fn duration_secs(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    let seconds = if trimmed.chars().any(|c| c.is_ascii_alphabetic()) {
        with_units(trimmed)?
    } else {
        slurm_form(trimmed)?
    };
    (seconds > 0).then_some(seconds)
}

/// `2h30m` and the like, in seconds.
fn with_units(text: &str) -> Option<u64> {
    const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut total: u64 = 0;
    let mut rest = text;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?.to_ascii_lowercase();
        let position = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        total = total.checked_add(number.checked_mul(UNITS[position].1)?)?;
        next_unit = position + 1;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

/// Slurm's `--time` forms, in seconds.
fn slurm_form(text: &str) -> Option<u64> {
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (days, clock) = match text.split_once('-') {
        Some((days, clock)) => (Some(number(days)?), clock),
        None => (None, text),
    };
    let parts: Vec<u64> = clock.split(':').map(number).collect::<Option<_>>()?;
    let seconds = match (days, parts.as_slice()) {
        (None, [minutes]) => minutes * 60,
        (None, [minutes, seconds]) => minutes * 60 + seconds,
        (None, [hours, minutes, seconds]) => hours * 3600 + minutes * 60 + seconds,
        (Some(d), [hours]) => d * 86_400 + hours * 3600,
        (Some(d), [hours, minutes]) => d * 86_400 + hours * 3600 + minutes * 60,
        (Some(d), [hours, minutes, seconds]) => d * 86_400 + hours * 3600 + minutes * 60 + seconds,
        _ => return None,
    };
    Some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forms `#[task]` and the runtime both accept, read once here.
    #[test]
    fn sizes_and_durations_read_as_slurm_reads_them() {
        for (text, mib) in [
            ("8G", Some(8192)),
            ("8GiB", Some(8192)),
            ("512", Some(512)),
            ("1T", Some(1 << 20)),
            ("1500K", Some(2)),
            ("0", None),
            ("1.5G", None),
            ("8X", None),
        ] {
            assert_eq!(memory_mib(text), mib, "{text}");
        }
        for (text, secs) in [
            ("90s", Some(90)),
            ("2h30m", Some(9000)),
            ("1d12h", Some(129_600)),
            ("45", Some(2700)),
            ("1-02:03:04", Some(93_784)),
            ("30m2h", None),
            ("0s", None),
            ("1:2:3:4", None),
        ] {
            assert_eq!(duration_secs(text), secs, "{text}");
        }
    }
}

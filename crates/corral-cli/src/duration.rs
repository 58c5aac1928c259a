//! Human durations: `500ms`, `5s`, `5m`, `2h`, `3d`, `1w`, and sums like `1h30m`.

use std::time::Duration;

/// Parses a duration; a bare number is seconds.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(n) = t.parse::<f64>() {
        return secs(n, s);
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("bad duration {s:?}: a number needs a unit (ms, s, m, h, d, w)")
            })?;
        if num_end == 0 {
            return Err(format!(
                "bad duration {s:?}: expected a number, as in 5m or 1h30m"
            ));
        }
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("bad duration {s:?}: {:?} is not a number", &rest[..num_end]))?;
        let after = &rest[num_end..];
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let unit = &after[..unit_end];
        let mult = match unit {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "w" | "week" | "weeks" => 7.0 * 86400.0,
            _ => {
                return Err(format!(
                    "bad duration {s:?}: unknown unit {unit:?} (use ms, s, m, h, d, w)"
                ))
            }
        };
        total += n * mult;
        rest = &after[unit_end..];
    }
    secs(total, s)
}

fn secs(n: f64, s: &str) -> Result<Duration, String> {
    if !n.is_finite() || n < 0.0 {
        return Err(format!("bad duration {s:?}: must be zero or more"));
    }
    Duration::try_from_secs_f64(n).map_err(|_| format!("bad duration {s:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good() {
        assert_eq!(parse("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("3d").unwrap(), Duration::from_secs(3 * 86400));
        assert_eq!(parse("400d").unwrap(), Duration::from_secs(400 * 86400));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("2w").unwrap(), Duration::from_secs(14 * 86400));
    }

    #[test]
    fn bad() {
        for b in [
            "", "x", "5x", "-5s", "-5", "m5", "5m x", "1e999", "inf", "NaN", "5..5s",
        ] {
            assert!(parse(b).is_err(), "{b}");
        }
    }
}

//! Dates and sizes as the pages show them: dates in UTC, the same on the server's render and the
//! browser's.

/// A file size for people: "950 B", "312 KB", "2.3 MB" (1 KB = 1024 bytes, as exports count).
pub fn bytes(count: u64) -> String {
    const KB: f64 = 1024.0;
    let value = count as f64;
    if value < KB {
        format!("{count} B")
    } else if value < KB * KB {
        format!("{:.0} KB", value / KB)
    } else {
        format!("{:.1} MB", value / KB / KB)
    }
}

/// "YYYY-MM-DD HH:MM UTC".
pub fn when(unix: i64) -> String {
    // Shown as UTC date and time; the browser's zone would differ between server and client render.
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

/// The UTC date alone, "YYYY-MM-DD".
pub fn day(unix: i64) -> String {
    when(unix).chars().take(10).collect()
}

/// The UTC calendar date of a time: (year, month 1..=12, day).
pub fn date_of(unix: i64) -> (i64, u32, u32) {
    civil_from_days(unix.div_euclid(86_400))
}

/// Midnight UTC of a "YYYY-MM-DD" date (what a date field sends), or `None` when it is not one.
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Hinnant's days_from_civil, the inverse of `civil_from_days`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // 31 February is not a date: it must come back as the same day.
    (civil_from_days(days) == (year, month as u32, day as u32)).then_some(days * 86_400)
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(super::bytes(950), "950 B");
        assert_eq!(super::bytes(312 * 1024 + 100), "312 KB");
        assert_eq!(super::bytes(2_411_725), "2.3 MB");
    }

    #[test]
    fn dates_are_rendered_in_utc() {
        assert_eq!(super::when(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::when(1_795_000_000), "2026-11-18 11:06 UTC");
    }

    #[test]
    fn date_fields_are_read_back_as_their_midnight() {
        assert_eq!(super::parse_day("1970-01-01"), Some(0));
        assert_eq!(super::parse_day("2026-11-18"), Some(1_795_000_000 - 11 * 3600 - 6 * 60 - 40));
        assert_eq!(super::date_of(1_795_000_000), (2026, 11, 18));
        for bad in ["", "2026-02-31", "2026-13-01", "18/11/2026", "2026-11"] {
            assert_eq!(super::parse_day(bad), None, "{bad}");
        }
    }
}

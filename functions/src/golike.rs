//! Go's text renderings that KrakenD's log lines are made of: `time.Time.Format` layouts,
//! `time.Duration.String`, `strconv.Quote` (gin's `%#v` of the path) and the one-verb `fmt`
//! directives go-logging applies (`%-8s`, `%.6s`, `%04d`).
//!
//! Hand-written: no crate renders Go layouts or Go's duration text, and these few rules (from Go's
//! `time/format.go`, `time/time.go`, `strconv/quote.go`, `fmt/print.go`) are what a user's
//! `custom_format` or log parser expects byte for byte.

use jiff::ZonedDateTime as Zoned;
use std::fmt::Write as _;
use std::time::Duration;

/// `t.Format(layout)`, Go's reference-time layouts (`2006-01-02T15:04:05.000Z07:00`).
pub fn format_time(layout: &str, t: &Zoned) -> String {
    let mut out = String::with_capacity(layout.len() + 8);
    let mut rest = layout;
    while !rest.is_empty() {
        let (prefix, chunk, next) = next_chunk(rest);
        out.push_str(prefix);
        let Some(chunk) = chunk else { break };
        render_chunk(&mut out, chunk, t);
        rest = next;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// Fractional seconds: digits, trailing zeros kept (`.000`) or trimmed (`.999`), separator.
    Frac {
        digits: usize,
        trim: bool,
        sep: char,
    },
}

/// Go's `nextStdChunk`: the text before the first layout element, the element, the text after.
fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let b = layout.as_bytes();
    let has = |i: usize, s: &str| layout[i..].starts_with(s);
    let mut i = 0;
    while i < b.len() {
        let found: Option<(Chunk, usize)> = match b[i] {
            b'J' if has(i, "January") => Some((Chunk::LongMonth, 7)),
            b'J' if has(i, "Jan") => Some((Chunk::Month, 3)),
            b'M' if has(i, "Monday") => Some((Chunk::LongWeekDay, 6)),
            b'M' if has(i, "Mon") => Some((Chunk::WeekDay, 3)),
            b'M' if has(i, "MST") => Some((Chunk::Tz, 3)),
            b'0' if has(i, "002") => Some((Chunk::ZeroYearDay, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                [
                    Chunk::ZeroMonth,
                    Chunk::ZeroDay,
                    Chunk::ZeroHour12,
                    Chunk::ZeroMinute,
                    Chunk::ZeroSecond,
                    Chunk::Year,
                ][usize::from(b[i + 1] - b'1')],
                2,
            )),
            b'1' if has(i, "15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if has(i, "2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            // "_2006" is a literal underscore and a year.
            b'_' if has(i, "_2") && !has(i, "_2006") => Some((Chunk::UnderDay, 2)),
            b'_' if has(i, "__2") => Some((Chunk::UnderYearDay, 3)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if has(i, "PM") => Some((Chunk::PM, 2)),
            b'p' if has(i, "pm") => Some((Chunk::Pm, 2)),
            b'-' if has(i, "-070000") => Some((Chunk::NumSecondsTz, 7)),
            b'-' if has(i, "-07:00:00") => Some((Chunk::NumColonSecondsTz, 9)),
            b'-' if has(i, "-0700") => Some((Chunk::NumTz, 5)),
            b'-' if has(i, "-07:00") => Some((Chunk::NumColonTz, 6)),
            b'-' if has(i, "-07") => Some((Chunk::NumShortTz, 3)),
            b'Z' if has(i, "Z070000") => Some((Chunk::Iso8601SecondsTz, 7)),
            b'Z' if has(i, "Z07:00:00") => Some((Chunk::Iso8601ColonSecondsTz, 9)),
            b'Z' if has(i, "Z0700") => Some((Chunk::Iso8601Tz, 5)),
            b'Z' if has(i, "Z07:00") => Some((Chunk::Iso8601ColonTz, 6)),
            b'Z' if has(i, "Z07") => Some((Chunk::Iso8601ShortTz, 3)),
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let digit = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == digit {
                    j += 1;
                }
                // Only a fraction when the run of digits ends the number.
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((Chunk::Frac { digits: j - i - 1, trim: digit == b'9', sep: char::from(b[i]) }, j - i))
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            return (&layout[..i], Some(chunk), &layout[i + len..]);
        }
        // Layout elements start with ASCII: step over a whole character.
        i += layout[i..].chars().next().map_or(1, char::len_utf8);
    }
    (layout, None, "")
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

fn render_chunk(out: &mut String, chunk: Chunk, t: &Zoned) {
    let month = usize::try_from(t.month()).unwrap_or(1).clamp(1, 12);
    let month_number = i64::from(t.month());
    let weekday = usize::from(t.weekday().to_sunday_zero_offset().unsigned_abs());
    let hour = t.hour();
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let offset = t.offset().seconds();
    match chunk {
        Chunk::LongMonth => out.push_str(MONTHS[month - 1]),
        Chunk::Month => out.push_str(&MONTHS[month - 1][..3]),
        Chunk::NumMonth => push_num(out, month_number, 0),
        Chunk::ZeroMonth => push_num(out, month_number, 2),
        Chunk::LongWeekDay => out.push_str(DAYS[weekday % 7]),
        Chunk::WeekDay => out.push_str(&DAYS[weekday % 7][..3]),
        Chunk::Day => push_num(out, t.day(), 0),
        Chunk::UnderDay => {
            if t.day() < 10 {
                out.push(' ');
            }
            push_num(out, t.day(), 0);
        }
        Chunk::ZeroDay => push_num(out, t.day(), 2),
        Chunk::UnderYearDay => {
            let yd = t.day_of_year();
            if yd < 100 {
                out.push(' ');
                if yd < 10 {
                    out.push(' ');
                }
            }
            push_num(out, yd, 0);
        }
        Chunk::ZeroYearDay => push_num(out, t.day_of_year(), 3),
        Chunk::Hour => push_num(out, hour, 2),
        Chunk::Hour12 => push_num(out, hour12, 0),
        Chunk::ZeroHour12 => push_num(out, hour12, 2),
        Chunk::Minute => push_num(out, t.minute(), 0),
        Chunk::ZeroMinute => push_num(out, t.minute(), 2),
        Chunk::Second => push_num(out, t.second(), 0),
        Chunk::ZeroSecond => push_num(out, t.second(), 2),
        Chunk::LongYear => push_num(out, t.year(), 4),
        Chunk::Year => push_num(out, t.year().rem_euclid(100), 2),
        Chunk::PM => out.push_str(if hour >= 12 { "PM" } else { "AM" }),
        Chunk::Pm => out.push_str(if hour >= 12 { "pm" } else { "am" }),
        Chunk::Tz => {
            let info = t.time_zone().to_offset_info(t.timestamp());
            let abbrev = info.abbreviation();
            // Go prints the offset when the zone has no abbreviation of letters.
            if !abbrev.is_empty() && abbrev.chars().all(|c| c.is_ascii_alphabetic()) {
                out.push_str(abbrev);
            } else {
                push_offset(out, offset, false, false, false);
            }
        }
        Chunk::Iso8601Tz
        | Chunk::Iso8601SecondsTz
        | Chunk::Iso8601ShortTz
        | Chunk::Iso8601ColonTz
        | Chunk::Iso8601ColonSecondsTz
            if offset == 0 =>
        {
            out.push('Z');
        }
        Chunk::Iso8601Tz | Chunk::NumTz => push_offset(out, offset, false, false, false),
        Chunk::Iso8601SecondsTz | Chunk::NumSecondsTz => push_offset(out, offset, false, true, false),
        Chunk::Iso8601ShortTz | Chunk::NumShortTz => push_offset(out, offset, false, false, true),
        Chunk::Iso8601ColonTz | Chunk::NumColonTz => push_offset(out, offset, true, false, false),
        Chunk::Iso8601ColonSecondsTz | Chunk::NumColonSecondsTz => push_offset(out, offset, true, true, false),
        Chunk::Frac { digits, trim, sep } => {
            let nanos = u32::try_from(t.subsec_nanosecond()).unwrap_or(0);
            let mut text = format!("{nanos:09}");
            text.truncate(digits.min(9));
            if trim {
                let kept = text.trim_end_matches('0');
                if !kept.is_empty() {
                    out.push(sep);
                    out.push_str(kept);
                }
            } else {
                out.push(sep);
                out.push_str(&text);
                // Go pads layouts of more than nine digits with zeros.
                out.extend(std::iter::repeat_n('0', digits.saturating_sub(9)));
            }
        }
    }
}

fn push_num(out: &mut String, n: impl Into<i64>, width: usize) {
    let n: i64 = n.into();
    if n < 0 {
        out.push('-');
    }
    let _ = write!(out, "{:0width$}", n.unsigned_abs());
}

fn push_offset(out: &mut String, offset: i32, colon: bool, seconds: bool, short: bool) {
    out.push(if offset < 0 { '-' } else { '+' });
    let abs = offset.unsigned_abs();
    let _ = write!(out, "{:02}", abs / 3600);
    if short {
        return;
    }
    if colon {
        out.push(':');
    }
    let _ = write!(out, "{:02}", abs / 60 % 60);
    if seconds {
        if colon {
            out.push(':');
        }
        let _ = write!(out, "{:02}", abs % 60);
    }
}

/// Go's `time.Duration.String()`: `0s`, `950ns`, `4.529µs`, `1.23ms`, `1.5s`, `2m3.5s`, `1h0m0s`.
pub fn duration(d: Duration) -> String {
    let mut out = String::with_capacity(16);
    push_duration(&mut out, d);
    out
}

/// [`duration`], appended to `out`. Written digit by digit: the access log renders one per
/// request, and `format!` costs several times more.
pub fn push_duration(out: &mut String, d: Duration) {
    let nanos = d.as_nanos();
    if nanos == 0 {
        out.push_str("0s");
        return;
    }
    if nanos < 1_000 {
        push_u128(out, nanos);
        out.push_str("ns");
        return;
    }
    if nanos < 1_000_000_000 {
        let (unit, precision) = if nanos < 1_000_000 { ("µs", 3) } else { ("ms", 6) };
        let scale = 10u128.pow(precision);
        push_u128(out, nanos / scale);
        push_fraction(out, nanos % scale, precision);
        out.push_str(unit);
        return;
    }
    let secs = nanos / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        push_u128(out, h);
        out.push('h');
    }
    if h > 0 || m > 0 {
        push_u128(out, m);
        out.push('m');
    }
    push_u128(out, s);
    push_fraction(out, nanos % 1_000_000_000, 9);
    out.push('s');
}

fn push_u128(out: &mut String, mut v: u128) {
    let mut buf = [0u8; 40];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(buf[at..].iter().map(|b| char::from(*b)));
}

/// `.ddd` with `precision` digits, trailing zeros trimmed; nothing when zero.
fn push_fraction(out: &mut String, value: u128, precision: u32) {
    if value == 0 {
        return;
    }
    let mut buf = [b'0'; 9];
    let width = precision as usize;
    let mut v = value;
    for i in (0..width).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let mut end = width;
    while end > 0 && buf[end - 1] == b'0' {
        end -= 1;
    }
    out.push('.');
    out.extend(buf[..end].iter().map(|b| char::from(*b)));
}

/// Go's `strconv.Quote` of bytes (what `%#v` prints for a string): `"` and `\` escaped, control
/// characters as `\n`-style or `\x..` escapes, invalid UTF-8 bytes as `\x..`, printable
/// characters as they are.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    push_quoted(&mut out, bytes);
    out
}

/// [`quote`], appended to `out`.
pub fn push_quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                c if c.is_ascii() && (c.is_ascii_control()) => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                // Go's `IsPrint` keeps ASCII space only among the spaces, and no format or
                // control characters.
                c if !c.is_ascii() && (c.is_control() || c.is_whitespace() || is_format_char(c)) => {
                    if (c as u32) < 0x10000 {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    } else {
                        let _ = write!(out, "\\U{:08x}", c as u32);
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
}

/// The common Unicode format characters (category Cf) Go refuses to print as they are.
fn is_format_char(c: char) -> bool {
    matches!(c as u32, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB)
}

/// A value for [`fmt_one`]: go-logging hands `fmt.Fprintf` a string (level, message, module,
/// program, file) or an integer (id, pid).
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Str(&'a str),
    Int(u64),
}

/// One Go `fmt` directive applied to one value: `%s`, `%-8s`, `%.6s`, `%q`, `%v`, `%d`, `%04d`,
/// `%x`. A verb that does not fit the value prints Go's `%!v(type=value)` complaint.
pub fn fmt_one(directive: &str, arg: Arg<'_>) -> String {
    let spec = directive.strip_prefix('%').unwrap_or(directive);
    let mut chars = spec.char_indices().peekable();
    let (mut minus, mut zero, mut plus) = (false, false, false);
    while let Some(&(_, c)) = chars.peek() {
        match c {
            '-' => minus = true,
            '0' => zero = true,
            '+' => plus = true,
            ' ' | '#' => {}
            _ => break,
        }
        chars.next();
    }
    let number = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        let mut n: Option<usize> = None;
        while let Some(&(_, c)) = chars.peek() {
            let Some(d) = c.to_digit(10) else { break };
            n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
            chars.next();
        }
        n
    };
    let width = number(&mut chars);
    let mut precision = None;
    if chars.peek().is_some_and(|&(_, c)| c == '.') {
        chars.next();
        precision = Some(number(&mut chars).unwrap_or(0));
    }
    let verb = chars.next().map_or('v', |(_, c)| c);
    let suffix: String = chars.map(|(_, c)| c).collect();
    let body = match (verb, arg) {
        ('s' | 'v', Arg::Str(s)) => match precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_owned(),
        },
        ('q', Arg::Str(s)) => quote(s.as_bytes()),
        ('d' | 'v', Arg::Int(n)) => {
            if plus {
                format!("+{n}")
            } else {
                n.to_string()
            }
        }
        ('x', Arg::Int(n)) => format!("{n:x}"),
        ('X', Arg::Int(n)) => format!("{n:X}"),
        (verb, Arg::Str(s)) => return format!("%!{verb}(string={s}){suffix}"),
        (verb, Arg::Int(n)) => return format!("%!{verb}(uint64={n}){suffix}"),
    };
    let len = body.chars().count();
    let pad = width.unwrap_or(0).saturating_sub(len);
    let mut out = String::with_capacity(body.len() + pad + suffix.len());
    if minus {
        out.push_str(&body);
        out.extend(std::iter::repeat_n(' ', pad));
    } else if zero && matches!(arg, Arg::Int(_)) {
        out.extend(std::iter::repeat_n('0', pad));
        out.push_str(&body);
    } else {
        out.extend(std::iter::repeat_n(' ', pad));
        out.push_str(&body);
    }
    out.push_str(&suffix);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use jiff::tz::{Offset, TimeZone};

    fn at(offset_hours: i8) -> Zoned {
        date(2026, 3, 7)
            .at(9, 5, 3, 120_450_000)
            .to_zoned_datetime(TimeZone::fixed(Offset::constant(offset_hours)))
            .expect("a valid time")
    }

    #[test]
    fn go_layouts_render_as_go_does() {
        let t = at(0);
        assert_eq!(format_time("2006/01/02 - 15:04:05", &t), "2026/03/07 - 09:05:03");
        assert_eq!(format_time("2006/01/02 - 15:04:05.000", &t), "2026/03/07 - 09:05:03.120");
        assert_eq!(format_time("2006-01-02T15:04:05.999Z07:00", &t), "2026-03-07T09:05:03.12Z");
        assert_eq!(format_time("2006-01-02T15:04:05.000000-07:00", &t), "2026-03-07T09:05:03.120450+00:00");
        // "+00:00" is no layout element: Go copies it as text.
        assert_eq!(format_time("15:04:05.000+00:00", &at(2)), "09:05:03.120+00:00");
        assert_eq!(format_time("Jan _2 15:04:05", &t), "Mar  7 09:05:03");
        assert_eq!(
            format_time("Monday, January 2 2006 3:4:5 PM -0700", &at(-5)),
            "Saturday, March 7 2026 9:5:3 AM -0500"
        );
        assert_eq!(format_time("06 002 __2 pm Z0700", &at(1)), "26 066  66 am +0100");
        assert_eq!(
            format_time(".999 ,000", &date(2026, 1, 1).at(0, 0, 0, 0).to_zoned_datetime(TimeZone::UTC).unwrap()),
            " ,000"
        );
        assert_eq!(format_time("▶ 15h", &t), "▶ 09h");
    }

    #[test]
    fn durations_read_as_go_prints_them() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(950), "950ns"),
            (Duration::from_nanos(4_529), "4.529µs"),
            (Duration::from_nanos(4_000), "4µs"),
            (Duration::from_micros(1_230), "1.23ms"),
            (Duration::from_millis(1_500), "1.5s"),
            (Duration::from_millis(123_500), "2m3.5s"),
            (Duration::from_secs(3_600), "1h0m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn quoting_follows_strconv_quote() {
        assert_eq!(quote(b"/users/1?x=2"), r#""/users/1?x=2""#);
        assert_eq!(quote("/a b/\"q\"\\/é".as_bytes()), r#""/a b/\"q\"\\/é""#);
        assert_eq!(quote(b"/\n\t\x01\xff"), r#""/\n\t\x01\xff""#);
        assert_eq!(quote("/\u{a0}\u{200b}".as_bytes()), r#""/\u00a0\u200b""#);
    }

    #[test]
    fn one_fmt_directive_pads_cuts_and_complains_as_go() {
        assert_eq!(fmt_one("%s", Arg::Str("INFO")), "INFO");
        assert_eq!(fmt_one("%.6s", Arg::Str("WARNING")), "WARNIN");
        assert_eq!(fmt_one("%-8s", Arg::Str("INFO")), "INFO    ");
        assert_eq!(fmt_one("%8s", Arg::Str("INFO")), "    INFO");
        assert_eq!(fmt_one("%.1s", Arg::Str("DEBUG")), "D");
        assert_eq!(fmt_one("%04d", Arg::Int(7)), "0007");
        assert_eq!(fmt_one("%d", Arg::Int(12345)), "12345");
        assert_eq!(fmt_one("%q", Arg::Str("a\"b")), r#""a\"b""#);
        assert_eq!(fmt_one("%d", Arg::Str("INFO")), "%!d(string=INFO)");
    }
}

//! Human-readable byte sizes for the command line (`2GiB`, `500MB`, `1.5G`, `1048576`).
//!
//! Both `K/M/G/T` and `KiB/MiB/GiB/TiB` mean powers of 1024, and `KB/MB/GB/TB` powers of
//! 1000, so `--size 2G` does what people who type it expect from `dd`-style tools.

use thiserror::Error;

/// Why a size string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseSizeError {
    /// The string had no number in front.
    #[error("size {0:?} does not start with a number; write e.g. 2GiB, 500MiB or 1048576")]
    NoNumber(String),
    /// The unit after the number is unknown.
    #[error(
        "size {input:?} has unknown unit {unit:?}; use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"
    )]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unrecognised suffix.
        unit: String,
    },
    /// The value does not fit in 64 bits.
    #[error("size {0:?} is too large; the maximum is 16 EiB")]
    TooLarge(String),
}

/// Parses a byte size such as `2GiB`, `20 MiB`, `1.5G`, `750KB` or `4096`.
pub fn parse_size(input: &str) -> Result<u64, ParseSizeError> {
    let s = input.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| ParseSizeError::NoNumber(input.to_string()))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(ParseSizeError::UnknownUnit {
                input: input.to_string(),
                unit: other.to_string(),
            })
        }
    };
    let bytes = value * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(ParseSizeError::TooLarge(input.to_string()));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_and_decimal_units() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("20 MiB"), Ok(20 << 20));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("750KB"), Ok(750_000));
        assert_eq!(parse_size("4096"), Ok(4096));
    }

    #[test]
    fn rejects_garbage_with_a_helpful_error() {
        assert!(matches!(
            parse_size("GiB"),
            Err(ParseSizeError::NoNumber(_))
        ));
        assert!(matches!(
            parse_size("1..2G"),
            Err(ParseSizeError::NoNumber(_))
        ));
        let err = parse_size("3 parsecs").expect_err("unknown unit");
        assert!(err.to_string().contains("unknown unit"));
        assert!(matches!(
            parse_size("99999999999TiB"),
            Err(ParseSizeError::TooLarge(_))
        ));
    }
}

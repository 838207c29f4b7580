//! File types recognised from leading bytes, and what a file name's extension promises.
//!
//! Encryption replaces a file's magic bytes with random data, so "this file was a PDF and no
//! longer starts with `%PDF-`" is the single strongest per-file signal, and it costs nothing:
//! the leading bytes pass through the backup anyway. Only formats that a hospital backup
//! actually holds are recognised; everything else is [`FileType::Unknown`], which is not
//! suspicious by itself.

use serde::{Deserialize, Serialize};

/// A content type recognised from the first bytes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    /// Zero bytes.
    Empty,
    /// `%PDF-` (scanned documents, reports).
    Pdf,
    /// DICOM Part 10: `DICM` at offset 128 (PACS images).
    Dicom,
    /// HL7 v2 message starting `MSH|` (SS-MIX2 standard storage).
    Hl7,
    /// ZIP container `PK\x03\x04` (also docx/xlsx/pptx).
    Zip,
    /// OLE2 compound file (legacy .doc/.xls).
    Ole2,
    /// JPEG `FF D8 FF`.
    Jpeg,
    /// PNG signature.
    Png,
    /// TIFF, little or big endian.
    Tiff,
    /// PostgreSQL custom-format dump `PGDMP`.
    PgDump,
    /// `SQLite format 3\0`.
    Sqlite,
    /// gzip `1F 8B`.
    Gzip,
    /// zstd frame `28 B5 2F FD`.
    Zstd,
    /// xz `FD 37 7A 58 5A 00`.
    Xz,
    /// 7-Zip archive.
    SevenZip,
    /// ELF executable or library.
    Elf,
    /// Windows PE executable (`MZ`).
    Pe,
    /// Text: no NUL and almost no control bytes (UTF-8, Shift_JIS, ISO-2022-JP all pass).
    Text,
    /// None of the above.
    Unknown,
}

/// How random a type's content normally looks; decides whether high entropy is alarming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntropyClass {
    /// Text-like: random-looking content is never legitimate.
    Low,
    /// Compressed by design (images, archives): random-looking content is normal.
    High,
    /// Either, depending on the producer (PDF, DICOM, executables, unknown data).
    Any,
}

impl FileType {
    /// Short upper-case name used in reasons ("PDF", "DICOM").
    pub fn label(self) -> &'static str {
        match self {
            FileType::Empty => "empty",
            FileType::Pdf => "PDF",
            FileType::Dicom => "DICOM",
            FileType::Hl7 => "HL7",
            FileType::Zip => "ZIP/Office",
            FileType::Ole2 => "OLE2/Office",
            FileType::Jpeg => "JPEG",
            FileType::Png => "PNG",
            FileType::Tiff => "TIFF",
            FileType::PgDump => "PostgreSQL dump",
            FileType::Sqlite => "SQLite",
            FileType::Gzip => "gzip",
            FileType::Zstd => "zstd",
            FileType::Xz => "xz",
            FileType::SevenZip => "7z",
            FileType::Elf => "ELF",
            FileType::Pe => "PE",
            FileType::Text => "text",
            FileType::Unknown => "unrecognised",
        }
    }

    /// True for every type except `Unknown` and `Empty`: a type a file can "lose".
    pub fn is_recognised(self) -> bool {
        !matches!(self, FileType::Unknown | FileType::Empty)
    }

    /// How random this type's content normally looks.
    pub fn entropy_class(self) -> EntropyClass {
        match self {
            FileType::Text | FileType::Hl7 | FileType::Empty => EntropyClass::Low,
            FileType::Jpeg
            | FileType::Png
            | FileType::Zip
            | FileType::Gzip
            | FileType::Zstd
            | FileType::Xz
            | FileType::SevenZip
            | FileType::PgDump => EntropyClass::High,
            _ => EntropyClass::Any,
        }
    }
}

/// Recognises a type from the leading bytes of a file (at least 132 bytes are needed to see
/// DICOM; [`crate::LEAD_LEN`] are kept). Never panics, whatever the input.
pub fn detect(lead: &[u8]) -> FileType {
    const MAGICS: &[(&[u8], FileType)] = &[
        (b"%PDF-", FileType::Pdf),
        (b"MSH|", FileType::Hl7),
        (b"\xEF\xBB\xBFMSH|", FileType::Hl7),
        (b"PK\x03\x04", FileType::Zip),
        (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", FileType::Ole2),
        (b"\xFF\xD8\xFF", FileType::Jpeg),
        (b"\x89PNG\r\n\x1A\n", FileType::Png),
        (b"II*\x00", FileType::Tiff),
        (b"MM\x00*", FileType::Tiff),
        (b"PGDMP", FileType::PgDump),
        (b"SQLite format 3\x00", FileType::Sqlite),
        (b"\x1F\x8B", FileType::Gzip),
        (b"\x28\xB5\x2F\xFD", FileType::Zstd),
        (b"\xFD7zXZ\x00", FileType::Xz),
        (b"7z\xBC\xAF\x27\x1C", FileType::SevenZip),
        (b"\x7FELF", FileType::Elf),
    ];
    if lead.is_empty() {
        return FileType::Empty;
    }
    if lead.get(128..132) == Some(b"DICM".as_slice()) {
        return FileType::Dicom;
    }
    if let Some((_, t)) = MAGICS.iter().find(|(m, _)| lead.starts_with(m)) {
        return *t;
    }
    if is_pe(lead) {
        return FileType::Pe;
    }
    if looks_like_text(lead) {
        return FileType::Text;
    }
    FileType::Unknown
}

/// `MZ` alone is two bytes that random data hits once in 65,536 files, so the PE header
/// offset at 0x3C must also point at `PE\0\0` when it lies inside the leading bytes.
fn is_pe(lead: &[u8]) -> bool {
    if !lead.starts_with(b"MZ") {
        return false;
    }
    let Some(off) = lead.get(0x3C..0x40) else {
        return false;
    };
    let off = u32::from_le_bytes([off[0], off[1], off[2], off[3]]) as usize;
    match lead.get(off..off.saturating_add(4)) {
        Some(sig) => sig == b"PE\0\0",
        // The header is beyond what we kept: accept on `MZ` plus a plausible offset.
        None => (0x40..0x1000).contains(&off),
    }
}

/// No NUL, and at most 2% control bytes other than tab, CR, LF, ESC (ISO-2022-JP) and FF.
/// Bytes >= 0x80 are allowed so Shift_JIS and EUC-JP pass; random data fails because
/// 1 in 8 of its bytes is a control byte and NUL appears in almost every 512 bytes.
fn looks_like_text(lead: &[u8]) -> bool {
    if lead.contains(&0) {
        return false;
    }
    let control = lead
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x1B | 0x0C)) || b == 0x7F)
        .count();
    control * 50 <= lead.len()
}

/// The last extension of a path's file name, lower-cased, without the dot ("pdf"); `None`
/// for names without one (SS-MIX2 files have none) and for dot-files like `.profile`.
pub fn extension(path: &str) -> Option<String> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let dot = name.rfind('.')?;
    if dot == 0 || dot + 1 == name.len() {
        return None;
    }
    Some(name[dot + 1..].to_ascii_lowercase())
}

/// The types a file with this extension may contain; empty when the extension promises
/// nothing (unknown extensions, `.bin`, `.dat`).
pub fn expected_types(ext: &str) -> &'static [FileType] {
    use FileType as T;
    match ext {
        "pdf" => &[T::Pdf],
        "dcm" | "dicom" => &[T::Dicom],
        "hl7" => &[T::Hl7],
        "jpg" | "jpeg" => &[T::Jpeg],
        "png" => &[T::Png],
        "tif" | "tiff" => &[T::Tiff],
        "zip" | "docx" | "xlsx" | "pptx" | "odt" | "ods" | "jar" => &[T::Zip],
        "doc" | "xls" | "ppt" | "msg" => &[T::Ole2, T::Zip],
        "gz" | "tgz" => &[T::Gzip],
        "zst" => &[T::Zstd],
        "xz" | "txz" => &[T::Xz],
        "7z" => &[T::SevenZip],
        "sqlite" | "sqlite3" => &[T::Sqlite],
        // pg_dump writes text (plain format) or PGDMP (custom format) to the same name.
        "dump" => &[T::PgDump, T::Text],
        "txt" | "csv" | "log" | "xml" | "json" | "html" | "htm" | "md" | "ini" | "cfg" | "conf"
        | "sql" | "yaml" | "yml" => &[T::Text],
        "exe" | "dll" | "sys" => &[T::Pe],
        "so" => &[T::Elf],
        _ => &[],
    }
}

/// Extensions that hospital data legitimately carries even though they promise no type.
const NEUTRAL_EXTENSIONS: &[&str] = &[
    "bin", "dat", "db", "bak", "tmp", "old", "idx", "lck", "lock", "pid", "out", "raw", "img",
    "iso", "tar", "bz2", "lz4", "rar", "cab", "msi", "hta", "js", "py", "sh", "ps1", "bat", "rtf",
    "bmp", "gif", "svg", "wav", "mp4", "avi", "mov", "eml", "sav", "ndjson", "tsv", "dcx",
];

/// True when the extension is one this system knows (typed or neutral), or is a number
/// (`.1`, `.002`: rotated logs and split archives). Ransomware appends extensions that are
/// not known: `.locked`, `.encrypted`, random strings.
pub fn is_known_extension(ext: &str) -> bool {
    !expected_types(ext).is_empty()
        || NEUTRAL_EXTENSIONS.contains(&ext)
        || (!ext.is_empty() && ext.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether a detected type is what the path's extension promises. Empty files and
/// extensions that promise nothing are always consistent.
pub fn is_consistent(path: &str, detected: FileType) -> bool {
    if detected == FileType::Empty {
        return true;
    }
    match extension(path) {
        Some(ext) => {
            let expected = expected_types(&ext);
            expected.is_empty() || expected.contains(&detected)
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dicom_lead() -> Vec<u8> {
        let mut v = vec![0u8; 128];
        v.extend_from_slice(b"DICM\x02\x00\x00\x00UL\x04\x00");
        v
    }

    #[test]
    fn detects_each_clinical_magic() {
        assert_eq!(detect(b"%PDF-1.7\n%\xE2\xE3"), FileType::Pdf);
        assert_eq!(detect(&dicom_lead()), FileType::Dicom);
        assert_eq!(detect(b"MSH|^~\\&|HIS|"), FileType::Hl7);
        assert_eq!(detect(b"PK\x03\x04\x14\x00"), FileType::Zip);
        assert_eq!(detect(b"\xFF\xD8\xFF\xE0\x00\x10JFIF"), FileType::Jpeg);
        assert_eq!(detect(b"\x89PNG\r\n\x1A\n\0\0"), FileType::Png);
        assert_eq!(detect(b"PGDMP\x01\x0e\x00"), FileType::PgDump);
        assert_eq!(detect(b"SQLite format 3\x00\x10\x00"), FileType::Sqlite);
        assert_eq!(detect(b"\x1F\x8B\x08\x00"), FileType::Gzip);
        assert_eq!(detect(b"\x28\xB5\x2F\xFD\x00"), FileType::Zstd);
        assert_eq!(detect(b"\xFD7zXZ\x00\x00"), FileType::Xz);
        assert_eq!(detect(b"\x7FELF\x02\x01\x01"), FileType::Elf);
        assert_eq!(detect(b"plain text\r\nwith lines\n"), FileType::Text);
        assert_eq!(detect(b""), FileType::Empty);
    }

    #[test]
    fn dicom_needs_magic_at_offset_128_not_at_start() {
        assert_ne!(detect(b"DICM"), FileType::Dicom);
        let mut short = vec![0u8; 130];
        short[128] = b'D';
        assert_eq!(detect(&short), FileType::Unknown);
    }

    #[test]
    fn pe_needs_pe_signature_where_the_header_points() {
        let mut pe = vec![0u8; 256];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3C] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert_eq!(detect(&pe), FileType::Pe);
        pe[0x80] = b'X';
        assert_ne!(detect(&pe), FileType::Pe);
    }

    #[test]
    fn japanese_text_is_text_and_random_bytes_are_not() {
        let sjis = b"\x93\xfa\x96\x7b\x8c\xea\x82\xcc\x83\x65\x83\x4c\x83\x58\x83\x67\r\n";
        assert_eq!(detect(sjis), FileType::Text);
        assert_eq!(detect(b"\x1b$B$3$s$K$A$O\x1b(B\n"), FileType::Text);
        let mut x: u32 = 12345;
        let random: Vec<u8> = (0..512)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        assert_eq!(detect(&random), FileType::Unknown);
    }

    #[test]
    fn extension_rules() {
        assert_eq!(extension("scan/2026/04/123.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension("a/b.tar.gz").as_deref(), Some("gz"));
        assert_eq!(extension("ssmix2/000/123/1234_20260401_ADT-00_1"), None);
        assert_eq!(extension("home/.profile"), None);
        assert_eq!(extension("dir.d/file"), None);
        assert_eq!(extension("trailing."), None);
        assert!(is_known_extension("pdf") && is_known_extension("001"));
        assert!(!is_known_extension("locked") && !is_known_extension("x7k2qz"));
    }

    #[test]
    fn consistency_of_extension_and_content() {
        assert!(is_consistent("a/123.pdf", FileType::Pdf));
        assert!(!is_consistent("a/123.pdf", FileType::Unknown));
        assert!(!is_consistent("a/123.pdf", FileType::Zip));
        assert!(is_consistent("a/letter.docx", FileType::Zip));
        assert!(is_consistent("a/123.pdf", FileType::Empty));
        assert!(is_consistent("a/blob.bin", FileType::Unknown));
        assert!(is_consistent("db/ehr.dump", FileType::Text));
        assert!(!is_consistent("db/ehr.dump", FileType::Unknown));
    }
}

//! Synthetic file contents with real headers: what a detector sees of clinical files.
//!
//! Bodies imitate each format's entropy: PDF objects are text with a compressed (random)
//! image stream; uncompressed DICOM pixels are a noisy gradient; JPEG, ZIP, gzip and
//! custom-format dump bodies are random, as compressed data is; HL7 is ASCII text with
//! ISO-2022-JP escapes; executables mix code-like bytes, zero padding and strings.

use rand::Rng;
use rand_chacha::ChaCha20Rng;

/// Random bytes (compressed-looking data).
pub fn random(rng: &mut ChaCha20Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v[..]);
    v
}

/// A PDF of about `size` bytes: text objects, one random "image" stream of ~30%.
pub fn pdf(rng: &mut ChaCha20Rng, size: usize) -> Vec<u8> {
    let mut v =
        b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            .to_vec();
    let image = size * 3 / 10;
    let mut n = 3;
    while v.len() + image + 64 < size {
        let line = format!(
            "{n} 0 obj\n<< /Type /Page /Contents [(Patient {:06} scanned referral, page {}) Tj] >>\nendobj\n",
            rng.gen_range(0..1_000_000),
            n
        );
        v.extend_from_slice(line.as_bytes());
        n += 1;
    }
    v.extend_from_slice(b"9 0 obj\n<< /Filter /DCTDecode >>\nstream\n");
    v.extend(random(rng, image));
    v.extend_from_slice(b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    v
}

fn dicom_element(out: &mut Vec<u8>, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr);
    let len = value.len() + value.len() % 2;
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(value);
    if value.len() % 2 == 1 {
        out.push(b' ');
    }
}

/// A DICOM Part 10 file: preamble, `DICM`, meta and patient elements, then pixel data,
/// either JPEG-compressed (random) or raw 16-bit gradient with noise.
pub fn dicom(rng: &mut ChaCha20Rng, size: usize, compressed: bool) -> Vec<u8> {
    let mut v = vec![0u8; 128];
    v.extend_from_slice(b"DICM");
    let ts: &[u8] = if compressed {
        b"1.2.840.10008.1.2.4.70"
    } else {
        b"1.2.840.10008.1.2.1"
    };
    dicom_element(&mut v, 0x0002, 0x0010, b"UI", ts);
    dicom_element(&mut v, 0x0008, 0x0060, b"CS", b"CT");
    let pid = format!("{:010}", rng.gen_range(0..10_000_000_000u64));
    dicom_element(&mut v, 0x0010, 0x0010, b"PN", b"YAMADA^TARO");
    dicom_element(&mut v, 0x0010, 0x0020, b"LO", pid.as_bytes());
    v.extend_from_slice(b"\xE0\x7F\x10\x00OW\x00\x00");
    let pixels = size.saturating_sub(v.len() + 4);
    v.extend_from_slice(&(pixels as u32).to_le_bytes());
    if compressed {
        v.extend(random(rng, pixels));
    } else {
        let mut level: i32 = 800;
        for i in 0..pixels / 2 {
            level = (level + rng.gen_range(-3..=3) + if i % 512 == 0 { 40 } else { 0 }) & 0x0FFF;
            v.extend_from_slice(&(level as u16).to_le_bytes());
        }
    }
    v
}

/// An SS-MIX2 HL7 v2 message (ADT or order), about 1-3 KB of text.
pub fn hl7(rng: &mut ChaCha20Rng, patient: &str, kind: &str) -> Vec<u8> {
    let mut s = format!(
        "MSH|^~\\&|HIS|KURA-HOSP|SSMIX2|KURA-HOSP|20260401{:06}||{kind}|{:012}|P|2.5||||||~ISO IR87||ISO 2022-1994\r\
         EVN||20260401{:06}\r\
         PID|||{patient}^^^^PI||\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B^^^^^L|||M|||^^^^1000001^JPN^H^\x1b$BEl5~ET\x1b(B\r",
        rng.gen_range(0..240_000),
        rng.gen_range(0..1_000_000_000_000u64),
        rng.gen_range(0..240_000),
    );
    for i in 0..rng.gen_range(8..40) {
        s.push_str(&format!(
            "OBX|{i}|NM|{}^LAB{i}^JC10||{}.{}|mg/dL|0.5-1.2|N|||F\r",
            rng.gen_range(1000..9999),
            rng.gen_range(0..200),
            rng.gen_range(0..10)
        ));
    }
    s.into_bytes()
}

/// A PostgreSQL custom-format dump: `PGDMP` header, a text table of contents, then
/// compressed (random) table data.
pub fn pg_dump(rng: &mut ChaCha20Rng, size: usize) -> Vec<u8> {
    let mut v = b"PGDMP\x01\x0f\x00\x04\x08\x01\x01".to_vec();
    for t in [
        "patients",
        "orders",
        "results",
        "prescriptions",
        "documents",
    ] {
        v.extend_from_slice(format!("\0TABLE public {t} ehr_owner\0").as_bytes());
    }
    let rest = size.saturating_sub(v.len());
    v.extend(random(rng, rest));
    v
}

/// A JPEG: SOI, JFIF APP0, quantisation table, random entropy-coded body, EOI.
pub fn jpeg(rng: &mut ChaCha20Rng, size: usize) -> Vec<u8> {
    let mut v = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00".to_vec();
    v.extend_from_slice(b"\xFF\xDB\x00\x43\x00");
    v.extend((0..64u8).map(|i| i / 4 + 1));
    v.extend_from_slice(b"\xFF\xDA\x00\x0C\x03\x01\x00\x02\x11\x03\x11\x00\x3F\x00");
    v.extend(random(rng, size.saturating_sub(v.len() + 2)));
    v.extend_from_slice(b"\xFF\xD9");
    v
}

/// A ZIP (docx/xlsx/zip): local header naming `inner`, deflated (random) body, central
/// directory and end record.
pub fn zip(rng: &mut ChaCha20Rng, size: usize, inner: &str) -> Vec<u8> {
    let mut v = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    v.extend_from_slice(&[0u8; 16]);
    v.extend_from_slice(&(inner.len() as u16).to_le_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(inner.as_bytes());
    let body = size.saturating_sub(v.len() + 46 + inner.len() + 22);
    v.extend(random(rng, body));
    v.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00");
    v.extend_from_slice(&[0u8; 38]);
    v.extend_from_slice(inner.as_bytes());
    v.extend_from_slice(b"PK\x05\x06");
    v.extend_from_slice(&[0u8; 18]);
    v
}

/// A gzip member: header, random deflate body, CRC and size trailer.
pub fn gzip(rng: &mut ChaCha20Rng, size: usize) -> Vec<u8> {
    let mut v = b"\x1F\x8B\x08\x00\x00\x00\x00\x00\x00\x03".to_vec();
    v.extend(random(rng, size.saturating_sub(18)));
    v.extend(random(rng, 8));
    v
}

/// Code-like bytes: a small alphabet of opcodes, zero padding and strings, entropy ~5-6.
fn code_body(rng: &mut ChaCha20Rng, n: usize) -> Vec<u8> {
    const OPS: &[u8] = &[
        0x48, 0x89, 0x8B, 0xE8, 0xC3, 0x55, 0x5D, 0x83, 0xC4, 0x0F, 0x85, 0x74,
    ];
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        match rng.gen_range(0..10) {
            0 => v.extend_from_slice(&[0u8; 16]),
            1 => v.extend_from_slice(b"libkura_viewer_render\0"),
            _ => {
                for _ in 0..8 {
                    v.push(OPS[rng.gen_range(0..OPS.len())]);
                    v.push(rng.gen_range(0..16));
                }
            }
        }
    }
    v.truncate(n);
    v
}

/// An ELF executable or library.
pub fn elf(rng: &mut ChaCha20Rng, size: usize) -> Vec<u8> {
    let mut v = b"\x7FELF\x02\x01\x01\x00".to_vec();
    v.extend_from_slice(&[0u8; 56]);
    v.extend(code_body(rng, size.saturating_sub(64)));
    v
}

/// A Windows PE executable: `MZ`, header offset at 0x3C, `PE\0\0` at 0x80.
pub fn pe(rng: &mut ChaCha20Rng, size: usize) -> Vec<u8> {
    let mut v = vec![0u8; 0x80];
    v[..2].copy_from_slice(b"MZ");
    v[0x3C] = 0x80;
    v.extend_from_slice(b"PE\0\0\x64\x86");
    v.extend(code_body(rng, size.saturating_sub(v.len())));
    v
}

/// A plain text note (Japanese department memo in UTF-8).
pub fn text(rng: &mut ChaCha20Rng, size: usize) -> Vec<u8> {
    let mut s = String::new();
    while s.len() < size {
        s.push_str(&format!(
            "申し送り {}: 病棟{} 患者ID {:08} 経過良好。\n",
            rng.gen_range(1..31),
            rng.gen_range(1..12),
            rng.gen_range(0..100_000_000)
        ));
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_anomaly::{FileSignals, FileType};
    use rand::SeedableRng;

    #[test]
    fn every_builder_is_recognised_as_its_type() {
        let mut r = ChaCha20Rng::seed_from_u64(1);
        let cases: Vec<(Vec<u8>, FileType)> = vec![
            (pdf(&mut r, 50_000), FileType::Pdf),
            (dicom(&mut r, 40_000, true), FileType::Dicom),
            (dicom(&mut r, 40_000, false), FileType::Dicom),
            (hl7(&mut r, "0000012345", "ADT^A08"), FileType::Hl7),
            (pg_dump(&mut r, 100_000), FileType::PgDump),
            (jpeg(&mut r, 20_000), FileType::Jpeg),
            (zip(&mut r, 20_000, "word/document.xml"), FileType::Zip),
            (gzip(&mut r, 20_000), FileType::Gzip),
            (elf(&mut r, 20_000), FileType::Elf),
            (pe(&mut r, 20_000), FileType::Pe),
            (text(&mut r, 3_000), FileType::Text),
        ];
        for (data, t) in cases {
            let s = FileSignals::of(&data);
            assert_eq!(s.file_type, t);
            if matches!(
                t,
                FileType::Hl7 | FileType::Text | FileType::Elf | FileType::Pe
            ) {
                assert!(!s.random_looking(), "{t:?} entropy {}", s.entropy);
            }
            if matches!(
                t,
                FileType::Jpeg | FileType::Zip | FileType::Gzip | FileType::PgDump
            ) {
                assert!(s.random_looking(), "{t:?} entropy {}", s.entropy);
            }
        }
    }
}

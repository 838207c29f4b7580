//! Binary files: DICOM-like images (poorly compressible) and scanned PDFs (incompressible).
//!
//! Bulk bytes come from one `fill_bytes` call on the seeded PRNG (several GB/s) — never a
//! per-byte RNG call — and are then shaped in one pass:
//! * images: 16-bit little-endian pixels with 12 bits stored, so every high byte is masked
//!   to `0x0F`, and black "air" rows at the top and bottom of the frame. zstd gets roughly
//!   1.3–1.6x on them, like real CT/MR pixel data without lossless JPEG.
//! * PDFs: a `%PDF-1.4` skeleton around one `/DCTDecode` image stream of random bytes,
//!   which, like a real JPEG scan, does not compress at all.

use rand::{Rng, RngCore};

use crate::util::{push_num, TkRng};

/// Builds a DICOM Part 10 file of `size` bytes (rounded down to an even size, min 1 KiB).
pub(crate) fn dicom(rng: &mut TkRng, size: usize, patient_id: &str, study_uid: &str) -> Vec<u8> {
    let size = size.max(1024) & !1;
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    let instance_uid = format!("{study_uid}.{}", rng.gen_range(1..100_000u32));
    let mut meta = Vec::new();
    element(&mut meta, 0x0002, 0x0001, b"OB", &[0, 1]);
    element(
        &mut meta,
        0x0002,
        0x0002,
        b"UI",
        b"1.2.840.10008.5.1.4.1.1.2\0",
    );
    element(
        &mut meta,
        0x0002,
        0x0003,
        b"UI",
        &even(instance_uid.as_bytes()),
    );
    element(&mut meta, 0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
    element(
        &mut out,
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    );
    out.extend_from_slice(&meta);
    element(&mut out, 0x0008, 0x0060, b"CS", b"CT");
    element(
        &mut out,
        0x0010,
        0x0020,
        b"LO",
        &even(patient_id.as_bytes()),
    );
    element(&mut out, 0x0020, 0x000D, b"UI", &even(study_uid.as_bytes()));
    element(&mut out, 0x0028, 0x0100, b"US", &16u16.to_le_bytes());
    element(&mut out, 0x0028, 0x0101, b"US", &12u16.to_le_bytes());
    // Pixel data header: tag, VR "OW", two reserved bytes, 32-bit length.
    let pixel_len = size.saturating_sub(out.len() + 12) & !1;
    out.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00]);
    out.extend_from_slice(b"OW\0\0");
    out.extend_from_slice(&(pixel_len as u32).to_le_bytes());
    let start = out.len();
    out.resize(start + pixel_len, 0);
    pixels(rng, &mut out[start..]);
    out
}

/// Random 12-bit pixels with black bands (about 8% of the frame at each end).
fn pixels(rng: &mut TkRng, px: &mut [u8]) {
    let band = (px.len() / 12) & !1;
    let body_end = px.len() - band;
    let body = &mut px[band..body_end];
    rng.fill_bytes(body);
    for pair in body.chunks_exact_mut(2) {
        pair[1] &= 0x0F;
    }
}

/// An explicit-VR little-endian element with a 16-bit length.
fn element(out: &mut Vec<u8>, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr);
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
}

/// DICOM values have even length; UIDs and strings are padded with NUL / space.
fn even(v: &[u8]) -> Vec<u8> {
    let mut v = v.to_vec();
    if v.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// Builds a scanned-document PDF of `size` bytes (min 1 KiB).
pub(crate) fn pdf(rng: &mut TkRng, size: usize) -> Vec<u8> {
    let size = size.max(1024);
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    out.extend_from_slice(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    out.extend_from_slice(b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n");
    out.extend_from_slice(
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
          /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>\nendobj\n",
    );
    let tail: &[u8] = b"\nendstream\nendobj\n5 0 obj\n<< /Length 35 >>\nstream\n\
          q 595 0 0 842 0 0 cm /Im0 Do Q\nendstream\nendobj\n\
          trailer\n<< /Root 1 0 R /Size 6 >>\n%%EOF\n";
    let mut head = b"4 0 obj\n<< /Type /XObject /Subtype /Image /Width 1654 /Height 2339 \
          /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length "
        .to_vec();
    // 21 = the 10-digit length plus " >>\nstream\n".
    let stream_len = size.saturating_sub(out.len() + head.len() + 21 + tail.len());
    push_num(&mut head, stream_len as u64, 10);
    head.extend_from_slice(b" >>\nstream\n");
    out.extend_from_slice(&head);
    let start = out.len();
    out.resize(start + stream_len, 0);
    // A JPEG stream starts with SOI (FF D8); the rest is entropy-coded, i.e. random-looking.
    rng.fill_bytes(&mut out[start..]);
    if stream_len >= 2 {
        out[start] = 0xFF;
        out[start + 1] = 0xD8;
    }
    out.extend_from_slice(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::stream;

    fn zstd_ratio(data: &[u8]) -> f64 {
        let packed = zstd::bulk::compress(data, 3).expect("zstd");
        data.len() as f64 / packed.len() as f64
    }

    #[test]
    fn dicom_has_preamble_magic_and_requested_size() {
        let mut rng = stream(1, "blob-test");
        let d = dicom(
            &mut rng,
            1_500_001,
            "0001234567",
            "1.2.392.200036.9116.2.5.1",
        );
        assert_eq!(d.len(), 1_500_000);
        assert!(d[..128].iter().all(|b| *b == 0));
        assert_eq!(&d[128..132], b"DICM");
        let ratio = zstd_ratio(&d);
        assert!((1.1..2.0).contains(&ratio), "dicom zstd ratio {ratio:.2}");
    }

    #[test]
    fn pdf_has_header_trailer_and_is_incompressible() {
        let mut rng = stream(2, "blob-test");
        let p = pdf(&mut rng, 300_000);
        assert_eq!(p.len(), 300_000);
        assert!(p.starts_with(b"%PDF-1.4\n"));
        assert!(p.ends_with(b"%%EOF\n"));
        let ratio = zstd_ratio(&p);
        assert!(ratio < 1.02, "pdf zstd ratio {ratio:.3}");
    }

    #[test]
    fn same_stream_same_bytes() {
        let a = pdf(&mut stream(3, "x"), 10_000);
        let b = pdf(&mut stream(3, "x"), 10_000);
        let c = pdf(&mut stream(4, "x"), 10_000);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

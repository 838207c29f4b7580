//! Benign heavy changes: large, legitimate, and exactly what a naive entropy or
//! change-count detector would flag.

use std::io;
use std::path::Path;

use rand::Rng;

use crate::formats;
use crate::{list_files, rng_for, select, write_file, Report};

fn ext_is(path: &str, exts: &[&str]) -> bool {
    exts.iter().any(|e| path.ends_with(&format!(".{e}")))
}

/// Every `*.dump` rewritten with a new custom-format dump of similar size.
pub(crate) fn dump_rewrite(root: &Path, seed: u64) -> io::Result<Report> {
    let mut rng = rng_for(seed, "dump");
    let mut touched = Vec::new();
    for f in list_files(root)?
        .into_iter()
        .filter(|f| ext_is(f, &["dump"]))
    {
        let old = std::fs::metadata(root.join(&f))?.len() as usize;
        let size = old + old / 50 + rng.gen_range(0..4096);
        write_file(root, &f, &formats::pg_dump(&mut rng, size))?;
        touched.push(f);
    }
    Ok(Report {
        touched,
        ..Report::default()
    })
}

/// `share` x (files in the tree) new images, alternately JPEG photos and DICOM (half of
/// them JPEG-compressed), 2-6 KiB each, in new study folders of 50.
pub(crate) fn new_images(root: &Path, share: f64, seed: u64) -> io::Result<Report> {
    let n = list_files(root)?.len();
    let count = if share.is_finite() && share > 0.0 {
        ((n as f64) * share).ceil() as usize
    } else {
        0
    };
    let mut rng = rng_for(seed, "images");
    let mut created = Vec::with_capacity(count);
    for i in 0..count {
        let size = rng.gen_range(2_048..6_144);
        let (path, data) = if i % 2 == 0 {
            (
                format!("photos/new-{seed}/{:03}/{i:06}.jpg", i / 100),
                formats::jpeg(&mut rng, size),
            )
        } else {
            (
                format!("pacs/new-{seed}-{:03}/IM{i:06}.dcm", i / 100),
                formats::dicom(&mut rng, size, i % 4 == 1),
            )
        };
        write_file(root, &path, &data)?;
        created.push(path);
    }
    Ok(Report {
        created,
        ..Report::default()
    })
}

/// `share` of the binaries under `app/` rewritten as new versions of the same format.
pub(crate) fn software_update(root: &Path, share: f64, seed: u64) -> io::Result<Report> {
    let bins: Vec<String> = list_files(root)?
        .into_iter()
        .filter(|f| f.starts_with("app/") && ext_is(f, &["so", "exe", "dll"]))
        .collect();
    let chosen = select(&bins, share, &mut rng_for(seed, "update-select"));
    let mut rng = rng_for(seed, "update");
    for f in &chosen {
        let old = std::fs::metadata(root.join(f))?.len() as usize;
        let size = old + rng.gen_range(0..old / 5 + 1);
        let data = if f.ends_with(".so") {
            formats::elf(&mut rng, size)
        } else {
            formats::pe(&mut rng, size)
        };
        write_file(root, f, &data)?;
    }
    Ok(Report {
        touched: chosen,
        ..Report::default()
    })
}

/// `share` of the second-level folders (`scan/2026`, `pacs/study003`, ...) moved one
/// level down, `a/b` -> `a/reorganised-2026/b`, by directory renames (contents untouched).
pub(crate) fn reorganise(root: &Path, share: f64, seed: u64) -> io::Result<Report> {
    let files = list_files(root)?;
    let mut dirs: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let mut parts = f.splitn(3, '/');
            let (a, b, rest) = (parts.next()?, parts.next()?, parts.next()?);
            (!rest.is_empty()).then(|| format!("{a}/{b}"))
        })
        .collect();
    dirs.dedup();
    let chosen = select(&dirs, share, &mut rng_for(seed, "reorganise"));
    let mut renamed = Vec::new();
    for d in &chosen {
        let (a, b) = d.split_once('/').unwrap_or((d, ""));
        let to = format!("{a}/reorganised-2026/{b}");
        std::fs::create_dir_all(root.join(a).join("reorganised-2026"))?;
        std::fs::rename(root.join(d), root.join(&to))?;
        for f in files.iter().filter(|f| f.starts_with(&format!("{d}/"))) {
            renamed.push((f.clone(), format!("{to}{}", &f[d.len()..])));
        }
    }
    Ok(Report {
        renamed,
        ..Report::default()
    })
}

/// `share` of the `*.zip`/`*.gz` archives replaced by new archives of the same kind: half
/// rewritten under the same name, half deleted and written under a new dated name.
pub(crate) fn archive_replace(root: &Path, share: f64, seed: u64) -> io::Result<Report> {
    let archives: Vec<String> = list_files(root)?
        .into_iter()
        .filter(|f| ext_is(f, &["zip", "gz"]))
        .collect();
    let chosen = select(&archives, share, &mut rng_for(seed, "archive-select"));
    let mut rng = rng_for(seed, "archive");
    let mut report = Report::default();
    for (i, f) in chosen.iter().enumerate() {
        let size = rng.gen_range(30_000..120_000);
        let zip = f.ends_with(".zip");
        let data = if zip {
            formats::zip(&mut rng, size, "export.csv")
        } else {
            formats::gzip(&mut rng, size)
        };
        if i % 2 == 0 {
            write_file(root, f, &data)?;
            report.touched.push(f.clone());
        } else {
            let stem = f.rsplit_once('.').map_or(f.as_str(), |(s, _)| s);
            let to = format!("{stem}-20260402.{}", if zip { "zip" } else { "gz" });
            std::fs::remove_file(root.join(f))?;
            write_file(root, &to, &data)?;
            report.deleted.push(f.clone());
            report.created.push(to);
        }
    }
    Ok(report)
}

/// An ordinary day: `share` x files new HL7 messages and scans (4:1), one memo edited,
/// every dump rewritten.
pub(crate) fn routine_day(root: &Path, share: f64, seed: u64) -> io::Result<Report> {
    let files = list_files(root)?;
    let mut rng = rng_for(seed, "routine");
    let count = if share.is_finite() && share > 0.0 {
        ((files.len() as f64) * share).ceil() as usize
    } else {
        0
    };
    let mut report = dump_rewrite(root, seed)?;
    for i in 0..count {
        let (path, data) = if i % 5 == 4 {
            let size = rng.gen_range(8_000..60_000);
            (
                format!("scan/2026/07/day{seed}-{i:04}.pdf"),
                formats::pdf(&mut rng, size),
            )
        } else {
            let pid = format!("{:010}", rng.gen_range(0..10_000_000_000u64));
            let path = format!(
                "ssmix2/standard/{}/{}/{pid}/20260702/ADT-00/{pid}_20260702_ADT-00_{seed:06}{i:06}_20260702090000000_01_1",
                &pid[..3],
                &pid[3..6]
            );
            (path, formats::hl7(&mut rng, &pid, "ADT^A08"))
        };
        write_file(root, &path, &data)?;
        report.created.push(path);
    }
    if let Some(memo) = files.iter().find(|f| f.ends_with(".txt")) {
        let mut data = std::fs::read(root.join(memo))?;
        data.extend(formats::text(&mut rng, 300));
        write_file(root, memo, &data)?;
        report.touched.push(memo.clone());
    }
    Ok(report)
}

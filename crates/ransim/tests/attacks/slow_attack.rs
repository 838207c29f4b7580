//! A slow attack over three generations, with legitimate edits between the steps: each
//! step is detected in its own generation, and the per-file clean assembly returns every
//! file's last valid content (compared byte for byte with what the test wrote) and says
//! which generation each file came from.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;

use kura_anomaly::{
    analyze, assemble_clean, default_validity, GenerationFiles, SourceHistory, Thresholds,
    VerdictKind,
};
use kura_ransim::observe::{capture, TreeState};
use kura_ransim::{formats, list_files, slow_attack_step, Behaviour};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use support::{base_with_history, scratch};

type Bytes = BTreeMap<String, Vec<u8>>;

fn read_all(root: &Path) -> Bytes {
    list_files(root)
        .unwrap()
        .into_iter()
        .map(|p| {
            let b = std::fs::read(root.join(&p)).unwrap();
            (p, b)
        })
        .collect()
}

/// Legitimate edits between attack steps: two PDFs get a new valid version, the dump is
/// rewritten. Returns the paths written (their new content is their last valid one).
fn legitimate_edits(root: &Path, step: usize) -> Vec<String> {
    let mut rng = ChaCha20Rng::seed_from_u64(step as u64);
    let pdfs: Vec<String> = list_files(root)
        .unwrap()
        .into_iter()
        .filter(|p| p.ends_with(".pdf"))
        .skip(step * 2)
        .take(2)
        .collect();
    for p in &pdfs {
        std::fs::write(root.join(p), formats::pdf(&mut rng, 20_000)).unwrap();
    }
    let mut written = pdfs;
    let dump = Behaviour::DumpRewrite
        .apply(root, 1.0, 50 + step as u64)
        .unwrap();
    written.extend(dump.touched);
    written
}

#[test]
fn slow_attack_per_file_clean_assembly_returns_last_valid_content() {
    let tmp = scratch();
    let root = tmp.path().join("tree");
    let base = base_with_history(&root, 42);
    let mut history: SourceHistory = base.history.clone();
    let mut expected: Bytes = read_all(&root);
    let mut states: Vec<TreeState> = vec![base.state.clone()];
    let mut bytes: Vec<Bytes> = vec![expected.clone()];
    let mut gens: Vec<GenerationFiles> = vec![base.state.generation("g0", VerdictKind::Clean)];
    for step in 0..3 {
        // Edits before the attack step, so an edited file may be encrypted afterwards.
        for p in legitimate_edits(&root, step) {
            expected.insert(p.clone(), std::fs::read(root.join(&p)).unwrap());
        }
        let report = slow_attack_step(&root, step, 3, 0.18, 7).unwrap();
        assert!(
            report.touched.len() >= 9,
            "each step touches at least 5% of files"
        );
        let state = capture(&root).unwrap();
        let a = analyze(
            &state.observe_since(states.last().unwrap()),
            &history,
            &Thresholds::default(),
        );
        println!(
            "step {}: score {} {:?}",
            step + 1,
            a.verdict.score,
            a.verdict.reasons
        );
        assert_eq!(
            a.verdict.verdict,
            VerdictKind::Suspicious,
            "step {} missed",
            step + 1
        );
        assert!(a.verdict.reasons[0].starts_with("type lost"));
        history.generations.push(a.summary.clone());
        gens.push(state.generation(&format!("g{}", step + 1), a.verdict.verdict));
        states.push(state);
        bytes.push(read_all(&root));
    }
    let assembly = assemble_clean(&gens, default_validity).unwrap();
    assert_eq!(
        assembly.newest_clean.as_ref().map(|g| g.0.as_str()),
        Some("g0")
    );
    assert!(assembly.excluded.is_empty(), "{:?}", assembly.excluded);
    assert_eq!(assembly.files.len(), expected.len());
    let gen_index = |id: &str| gens.iter().position(|g| g.id.0 == id).unwrap();
    let mut from_older = 0;
    for f in &assembly.files {
        let i = gen_index(&f.generation.0);
        let got = &bytes[i][&f.path];
        assert!(
            got == &expected[&f.path],
            "{} from {} is not its last valid content",
            f.path,
            f.generation.0
        );
        // The report names the newest generation holding that content.
        let newest_with_it = (0..bytes.len())
            .rev()
            .find(|&j| bytes[j].get(&f.path) == Some(&expected[&f.path]))
            .unwrap();
        assert_eq!(i, newest_with_it, "{}", f.path);
        if i < gens.len() - 1 {
            from_older += 1;
            assert!(
                !f.newer_invalid.is_empty(),
                "{} should say why newer versions were refused",
                f.path
            );
        }
    }
    println!(
        "slow attack: {} files assembled, {} from an older generation than the newest, {} excluded",
        assembly.files.len(),
        from_older,
        assembly.excluded.len()
    );
    assert!(from_older >= 27, "about 18% of ~160 files were encrypted");
}

//! Ransom-note file names.
//!
//! Ransomware drops a note in every folder it encrypted, under names built from a small
//! vocabulary ("HOW_TO_DECRYPT", "README_FOR_DECRYPT", "restore-my-files", "!!!READ_ME!!!").
//! Matching is done on the file name folded to lower case with `-`, ` ` and `.` turned
//! into `_`, so `How-To-Decrypt.txt` and `HOW_TO_DECRYPT.html` both match. A plain
//! `README.txt` does not: the words that make a name a note are about decryption,
//! recovery of files, or ransom. Japanese variants are matched on their key words.

/// Fragments that make a (folded) name a ransom note on their own.
const STRONG: &[&str] = &[
    "decrypt",
    "ransom",
    "restore_my_files",
    "restore_files",
    "recover_my_files",
    "recover_files",
    "how_to_recover",
    "how_to_restore",
    "how_to_back_files",
    "your_files",
    "files_encrypted",
    "files_are_encrypted",
    "!!!read_me!!!",
    "read_me_now",
    "readme_now",
    "readme_warning",
    "_readme_txt",
    "unlock_files",
    "unlock_your",
    // Japanese: 復号 (decrypt), 身代金 (ransom), 暗号化されました (have been encrypted),
    // ファイルを復元 / ファイルの復元 (restore your files), 復元方法 (how to restore).
    "復号",
    "身代金",
    "暗号化され",
    "ファイルを復元",
    "ファイルの復元",
    "復元方法",
    "必ずお読みください",
];

/// Folds a file name for matching; see the module comment.
fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with('_') {
        // "_readme.txt" (STOP/Djvu) must not match "my_readme.txt": anchor it.
        out.push('_');
    }
    for c in name.chars() {
        match c {
            '-' | ' ' | '.' => out.push('_'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// True when the last component of `path` is a known ransom-note name. `.hta` files count
/// only together with a note word in the name ("HOW_TO_DECRYPT.hta"), which the strong
/// list already covers; hospitals do run legitimate HTA applications.
pub fn is_ransom_note(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let folded = fold(name);
    if folded == "__readme_txt" {
        return true;
    }
    STRONG
        .iter()
        .filter(|s| **s != "_readme_txt")
        .any(|s| folded.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_note_names_match() {
        for name in [
            "README_FOR_DECRYPT.txt",
            "HOW_TO_DECRYPT.html",
            "How-To-Decrypt.hta",
            "!!!READ_ME!!!.txt",
            "restore-my-files.txt",
            "RECOVER-FILES.html",
            "_readme.txt",
            "YOUR_FILES_ARE_ENCRYPTED.TXT",
            "dir/sub/DECRYPT-INSTRUCTIONS.txt",
            "ファイルを復元する方法.txt",
            "復号方法.txt",
            "【必ずお読みください】.txt",
        ] {
            assert!(is_ransom_note(name), "{name}");
        }
    }

    #[test]
    fn ordinary_names_do_not_match() {
        for name in [
            "README.txt",
            "readme.md",
            "my_readme.txt",
            "scan/2026/04/123.pdf",
            "app/launcher.hta",
            "restore.log",
            "files/encrypted-volume-notes.txt",
            "紹介状.pdf",
        ] {
            assert!(!is_ransom_note(name), "{name}");
        }
    }
}

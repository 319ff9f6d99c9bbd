//! Tests of the file source: splitting, line numbers, headers, following.

use super::*;
use std::io::Write;

fn read_all(pattern: &str, worker: usize, peers: usize, headers: bool) -> Vec<(String, u64)> {
    read_all_blocks(pattern, worker, peers, headers, BLOCK_BYTES).0
}

fn read_all_blocks(
    pattern: &str,
    worker: usize,
    peers: usize,
    headers: bool,
    block: u64,
) -> (Vec<(String, u64)>, usize) {
    let files = list_files(pattern).unwrap();
    let (mut all, _) = plan_splits(&files, peers, block);
    let splits = all.swap_remove(worker);
    let mut r = FileReader::open(pattern, worker, peers, ReadMode::Bounded, headers).unwrap();
    r.line_bases = vec![None; splits.len()];
    r.splits = splits;
    let mut lines = Vec::new();
    loop {
        let mut ids = Vec::new();
        let p = r
            .poll(7, |item| {
                if let Item::Line(l, id) = item {
                    ids.push((String::from_utf8(l.to_vec()).unwrap(), id))
                }
            })
            .unwrap();
        for (l, id) in ids {
            let (_, n) = r.resolve(id);
            lines.push((l, n));
        }
        if p == Poll::Done {
            // How often line numbers were counted by re-reading.
            return (lines, r.newline_passes);
        }
    }
}

#[test]
fn every_line_is_read_once_with_its_line_number_for_any_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for f in 0..3 {
        let mut file = File::create(dir.path().join(format!("part-{f}.jsonl"))).unwrap();
        for i in 0..(5 + f * 7) {
            let line = format!("file{f}-line{i}-{}", "x".repeat(i % 13));
            writeln!(file, "{line}").unwrap();
            expected.push((line, i as u64 + 1));
        }
    }
    // A last line without a trailing newline.
    let mut file = File::options()
        .append(true)
        .open(dir.path().join("part-2.jsonl"))
        .unwrap();
    write!(file, "tail").unwrap();
    expected.push(("tail".into(), 20));
    let pattern = dir.path().join("*.jsonl").to_string_lossy().into_owned();
    for peers in 1..=5 {
        let mut got: Vec<(String, u64)> = (0..peers)
            .flat_map(|w| read_all(&pattern, w, peers, false))
            .collect();
        got.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(got, want, "peers = {peers}");
    }
}

/// Two files of `lines` lines each, line `i` padded by `pad(i)` bytes; returns their
/// glob and every (line, 1-based number), sorted.
fn numbered_files(
    dir: &Path,
    lines: usize,
    mut pad: impl FnMut(usize) -> usize,
) -> (String, Vec<(String, u64)>) {
    let mut expected = Vec::new();
    for f in 0..2 {
        let mut text = String::new();
        for i in 0..lines {
            let line = format!("f{f}-{i}-{}", "y".repeat(pad(i)));
            text.push_str(&line);
            text.push('\n');
            expected.push((line, i as u64 + 1));
        }
        std::fs::write(dir.join(format!("part-{f}.jsonl")), text).unwrap();
    }
    expected.sort();
    (dir.join("*.jsonl").to_string_lossy().into_owned(), expected)
}

#[test]
fn line_numbers_are_right_across_blocks_and_one_reader_never_rereads() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 7u64;
    let (pattern, expected) = numbered_files(dir.path(), 60, |_| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 59) as usize
    });
    for block in [1, 2, 5, 16, 37, 100, 1 << 20] {
        for peers in 1..=3 {
            let mut got = Vec::new();
            for w in 0..peers {
                let (lines, reread) = read_all_blocks(&pattern, w, peers, false, block);
                if peers == 1 {
                    assert_eq!(
                        reread, 0,
                        "block {block}: one reader knows every line number"
                    );
                }
                got.extend(lines);
            }
            got.sort();
            assert_eq!(got, expected, "block {block}, peers {peers}");
        }
    }
    // With a header line, which is line 1 and not a record.
    std::fs::write(dir.path().join("a.csv"), "h\nx1\nx22\nx333\nx4\n").unwrap();
    let csv = dir.path().join("*.csv").to_string_lossy().into_owned();
    for block in [1, 3, 4, 7, 64] {
        let (got, reread) = read_all_blocks(&csv, 0, 1, true, block);
        let want: Vec<(String, u64)> = ["x1", "x22", "x333", "x4"]
            .iter()
            .zip(2..)
            .map(|(l, n)| (l.to_string(), n))
            .collect();
        assert_eq!((got, reread), (want, 0), "block {block}");
    }
}

/// Readers of one pattern sharing line counts, polled in turn (`lockstep`) or one
/// after another; every line's number is asked with `try_resolve` after each poll
/// (as the source operator does) and, once all readers are done, again. Returns the
/// numbered lines and how often a reader counted newlines itself.
fn read_shared(
    pattern: &str,
    peers: usize,
    block: u64,
    lockstep: bool,
) -> (Vec<(String, u64)>, usize) {
    let files = list_files(pattern).unwrap();
    let (all, _) = plan_splits(&files, peers, block);
    let counts = Arc::new(LineCounts::default());
    let mut readers: Vec<FileReader> = all
        .into_iter()
        .enumerate()
        .map(|(w, splits)| {
            let mut r = FileReader::open(pattern, w, peers, ReadMode::Bounded, false).unwrap();
            r.line_bases = vec![None; splits.len()];
            r.splits = splits;
            r.share_line_counts(Arc::clone(&counts));
            r
        })
        .collect();
    let mut pending: Vec<Vec<(String, LineId)>> = vec![Vec::new(); peers];
    let mut lines = Vec::new();
    let mut done = vec![false; peers];
    let order: Vec<usize> = if lockstep {
        (0..).map(|i| i % peers).take(100_000).collect()
    } else {
        (0..peers)
            .flat_map(|w| std::iter::repeat_n(w, 50_000))
            .collect()
    };
    for w in order {
        if done.iter().all(|d| *d) {
            break;
        }
        if done[w] {
            continue;
        }
        let r = &mut readers[w];
        let p = r
            .poll(11, |item| {
                if let Item::Line(l, id) = item {
                    pending[w].push((String::from_utf8(l.to_vec()).unwrap(), id))
                }
            })
            .unwrap();
        done[w] = p == Poll::Done;
        pending[w].retain(|(l, id)| match r.try_resolve(*id) {
            Some((_, n)) => {
                lines.push((l.clone(), n));
                false
            }
            None => true,
        });
    }
    assert!(done.iter().all(|d| *d));
    for (r, pending) in readers.iter_mut().zip(&mut pending) {
        for (l, id) in pending.drain(..) {
            let (_, n) = r
                .try_resolve(id)
                .expect("every split is counted once all are read");
            lines.push((l, n));
        }
    }
    let reread = readers.iter().map(|r| r.newline_passes).sum();
    (lines, reread)
}

#[test]
fn readers_sharing_line_counts_number_lines_without_rereading() {
    let dir = tempfile::tempdir().unwrap();
    let (pattern, expected) = numbered_files(dir.path(), 80, |i| (i * 7) % 23);
    for block in [3, 16, 50, 1 << 20] {
        for peers in 1..=4 {
            for lockstep in [true, false] {
                let (mut got, reread) = read_shared(&pattern, peers, block, lockstep);
                got.sort();
                assert_eq!(
                    got, expected,
                    "block {block}, peers {peers}, lockstep {lockstep}"
                );
                assert_eq!(
                    reread, 0,
                    "block {block}, peers {peers}, lockstep {lockstep}"
                );
            }
        }
    }
}

#[test]
fn blocks_are_dealt_round_robin_and_the_last_owner_follows() {
    let files = vec![(PathBuf::from("a"), 20), (PathBuf::from("b"), 5)];
    let (splits, last) = plan_splits(&files, 2, 8);
    let show = |v: &Vec<Split>| {
        v.iter()
            .map(|s| {
                (
                    s.path.to_string_lossy().into_owned(),
                    s.start,
                    s.end.unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        show(&splits[0]),
        vec![("a".into(), 0, 8), ("a".into(), 16, 20)]
    );
    assert_eq!(
        show(&splits[1]),
        vec![("a".into(), 8, 16), ("b".into(), 0, 5)]
    );
    assert_eq!(last, 1);
}

#[test]
fn headers_are_not_records() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "h1,h2\n1,2\n3,4\n").unwrap();
    let pattern = dir.path().join("*.csv").to_string_lossy().into_owned();
    for peers in 1..=3 {
        let mut got: Vec<String> = (0..peers)
            .flat_map(|w| read_all(&pattern, w, peers, true))
            .map(|(l, _)| l)
            .collect();
        got.sort();
        assert_eq!(got, vec!["1,2", "3,4"], "peers = {peers}");
    }
}

/// Blank lines before a CSV header hold no record, so the header is the first line that
/// is not blank; records keep their line numbers, whatever split starts among the blank
/// lines (small blocks put split boundaries there).
#[test]
fn blank_lines_before_the_header_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "\n  \r\nh1,h2\n1,2\n\n3,4\n").unwrap();
    let pattern = dir.path().join("*.csv").to_string_lossy().into_owned();
    let want = vec![
        ("".to_string(), 5),
        ("1,2".to_string(), 4),
        ("3,4".to_string(), 6),
    ];
    for block in [1, 2, 3, 5, 8, BLOCK_BYTES] {
        for peers in 1..=3 {
            let mut got: Vec<(String, u64)> = (0..peers)
                .flat_map(|w| read_all_blocks(&pattern, w, peers, true, block).0)
                .collect();
            got.sort();
            assert_eq!(got, want, "peers = {peers}, block = {block}");
        }
    }
    let mut r = FileReader::open(&pattern, 0, 1, ReadMode::Bounded, true).unwrap();
    let mut headers = Vec::new();
    r.poll(1 << 20, |item| {
        if let Item::Header(h, _) = item {
            headers.push(String::from_utf8(h.to_vec()).unwrap());
        }
    })
    .unwrap();
    assert_eq!(headers, vec!["h1,h2"]);
}

#[test]
fn a_followed_csv_file_is_read_once_its_header_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "k,t\nx,1\n").unwrap();
    let pattern = dir.path().join("*.csv").to_string_lossy().into_owned();
    let mut r = FileReader::open(
        &pattern,
        0,
        1,
        ReadMode::Follow { exit_at_end: false },
        true,
    )
    .unwrap();
    let mut got = Vec::new();
    let poll = |r: &mut FileReader, got: &mut Vec<String>| {
        r.poll(1 << 20, |item| match item {
            Item::Header(h, _) => got.push(format!("H:{}", String::from_utf8_lossy(h))),
            Item::Line(l, _) => got.push(String::from_utf8_lossy(l).into_owned()),
            Item::Message { .. } | Item::Row { .. } | Item::Unreadable { .. } => {
                unreachable!("files deliver lines")
            }
        })
        .unwrap()
    };
    poll(&mut r, &mut got);
    // A new file appears empty, then its header is written in two steps.
    let b = dir.path().join("b.csv");
    std::fs::write(&b, "").unwrap();
    std::thread::sleep(Duration::from_millis(250));
    poll(&mut r, &mut got);
    std::fs::write(&b, "k,").unwrap();
    std::thread::sleep(Duration::from_millis(250));
    poll(&mut r, &mut got);
    std::fs::write(&b, "k,t\ny,2\n").unwrap();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(50));
        poll(&mut r, &mut got);
    }
    assert_eq!(got, vec!["H:k,t", "x,1", "H:k,t", "y,2"]);
}

#[test]
fn following_picks_up_appended_lines_and_new_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    std::fs::write(&a, "1\n2\n").unwrap();
    let pattern = dir.path().join("*.jsonl").to_string_lossy().into_owned();
    let mut r = FileReader::open(
        &pattern,
        0,
        1,
        ReadMode::Follow { exit_at_end: false },
        false,
    )
    .unwrap();
    let mut got = Vec::new();
    let poll = |r: &mut FileReader, got: &mut Vec<String>| {
        r.poll(1 << 20, |item| {
            if let Item::Line(l, _) = item {
                got.push(String::from_utf8(l.to_vec()).unwrap())
            }
        })
        .unwrap()
    };
    assert_eq!(poll(&mut r, &mut got), Poll::Lines(2));
    assert_eq!(poll(&mut r, &mut got), Poll::Idle);
    let mut f = File::options().append(true).open(&a).unwrap();
    write!(f, "3\n4").unwrap();
    assert_eq!(poll(&mut r, &mut got), Poll::Lines(1));
    std::fs::write(dir.path().join("b.jsonl"), "5\n6").unwrap();
    std::thread::sleep(Duration::from_millis(250));
    // A newer file exists, but a.jsonl's last line is unfinished: its writer gets time.
    for _ in 0..5 {
        assert_eq!(poll(&mut r, &mut got), Poll::Idle);
    }
    writeln!(f, "0").unwrap();
    let mut rounds = 0;
    while got.len() < 5 && rounds < 10 {
        poll(&mut r, &mut got);
        rounds += 1;
    }
    assert_eq!(got, vec!["1", "2", "3", "40", "5"]);
    // b.jsonl's unfinished "6" waits for its writer, and with a newer file and no writer
    // it is read as it is once the grace has passed.
    std::fs::write(dir.path().join("c.jsonl"), "7\n").unwrap();
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(poll(&mut r, &mut got), Poll::Idle);
    std::thread::sleep(ROTATION_GRACE);
    let mut rounds = 0;
    while got.len() < 7 && rounds < 10 {
        poll(&mut r, &mut got);
        rounds += 1;
    }
    assert_eq!(got, vec!["1", "2", "3", "40", "5", "6", "7"]);
}

#[test]
fn a_glob_matching_nothing_is_an_error_unless_the_source_waits_for_files() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("*.jsonl").to_string_lossy().into_owned();
    for mode in [ReadMode::Bounded, ReadMode::Follow { exit_at_end: true }] {
        match FileReader::open(&pattern, 0, 1, mode, false) {
            Err(FileSourceError::NoFiles { pattern: p, hint }) => {
                assert_eq!(p, pattern);
                assert!(hint.contains("glob relative to the job file"), "{hint}");
            }
            Err(e) => panic!("{mode:?}: {e}"),
            Ok(_) => panic!("{mode:?}: opened a source with no files"),
        }
    }
    // Live, the source waits for files (with a warning) and picks them up.
    let mut r = FileReader::open(
        &pattern,
        0,
        1,
        ReadMode::Follow { exit_at_end: false },
        false,
    )
    .unwrap();
    std::fs::write(dir.path().join("a.jsonl"), "1\n").unwrap();
    std::thread::sleep(Duration::from_millis(250));
    let mut got = Vec::new();
    for _ in 0..5 {
        r.poll(1 << 20, |item| {
            if let Item::Line(l, _) = item {
                got.push(String::from_utf8(l.to_vec()).unwrap())
            }
        })
        .unwrap();
    }
    assert_eq!(got, vec!["1"]);
}

/// A path naming a directory, or starting at `~`, matches no file: the hint says why.
#[test]
fn no_files_hints_name_a_directory_and_the_tilde() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let pattern = data.to_string_lossy().into_owned();
    match FileReader::open(&pattern, 0, 1, ReadMode::Bounded, false) {
        Err(e @ FileSourceError::NoFiles { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(&format!("`{pattern}` is a directory")),
                "{text}"
            );
            assert!(text.contains(&format!("`{pattern}/*.jsonl`")), "{text}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened a directory as a source"),
    }
    let hint = no_files_hint(&format!("{}/~/events/*.jsonl", dir.path().display()));
    assert!(hint.contains("`~` is not expanded"), "{hint}");
    let hint = no_files_hint("~/events/*.jsonl");
    assert!(hint.contains("`~` is not expanded"), "{hint}");
    let hint = no_files_hint("ev~1/*.jsonl");
    assert!(hint.contains("glob relative"), "{hint}");
}

/// Polls until `Done` (at most `rounds` polls, `pause` apart), collecting lines and
/// headers (`H:...`); returns them and whether the read ended.
fn poll_until_done(r: &mut FileReader, rounds: usize, pause: Duration) -> (Vec<String>, bool) {
    let mut got = Vec::new();
    for _ in 0..rounds {
        let p = r
            .poll(1 << 20, |item| match item {
                Item::Header(h, _) => got.push(format!("H:{}", String::from_utf8_lossy(h))),
                Item::Line(l, _) => got.push(String::from_utf8_lossy(l).into_owned()),
                Item::Message { .. } | Item::Row { .. } | Item::Unreadable { .. } => {
                    unreachable!("files deliver lines")
                }
            })
            .unwrap();
        if p == Poll::Done {
            return (got, true);
        }
        std::thread::sleep(pause);
    }
    (got, false)
}

/// `--exit-at-end` stops at the end of the input present, also when the last file is
/// empty, blank or only a header without its line break (they held the read for ever),
/// on every worker, and when that file is the only one.
#[test]
fn an_exit_at_end_read_ends_at_an_empty_or_headerless_last_csv_file() {
    for last in ["", "\n \n", "ts,v,k", "\u{feff}"] {
        for only in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            if !only {
                std::fs::write(dir.path().join("a.csv"), "ts,v,k\n1000,1,x\n").unwrap();
            }
            std::fs::write(dir.path().join("b.csv"), last).unwrap();
            let pattern = dir.path().join("*.csv").to_string_lossy().into_owned();
            for peers in 1..=2 {
                let mut got = Vec::new();
                for w in 0..peers {
                    let mode = ReadMode::Follow { exit_at_end: true };
                    let mut r = FileReader::open(&pattern, w, peers, mode, true).unwrap();
                    let (lines, done) = poll_until_done(&mut r, 20, Duration::ZERO);
                    assert!(done, "{last:?}, only {only}, worker {w} of {peers}");
                    got.extend(lines);
                }
                let want: &[&str] = if only { &[] } else { &["H:ts,v,k", "1000,1,x"] };
                assert_eq!(got, want, "{last:?}, only {only}, peers {peers}");
            }
        }
    }
}

/// In a live read, a followed CSV file that is empty or blank gives way to a newer file
/// at once; one holding only an unfinished header line after its writer's grace. Either
/// way the newer file is read (the empty file had held the source for ever).
#[test]
fn an_empty_or_headerless_followed_csv_file_gives_way_to_a_newer_one() {
    for (b, wait) in [("", false), ("\n", false), ("k,t", true)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "k,t\nx,1\n").unwrap();
        std::fs::write(dir.path().join("b.csv"), b).unwrap();
        let pattern = dir.path().join("*.csv").to_string_lossy().into_owned();
        let mode = ReadMode::Follow { exit_at_end: false };
        let mut r = FileReader::open(&pattern, 0, 1, mode, true).unwrap();
        let pause = Duration::from_millis(50);
        let (mut got, done) = poll_until_done(&mut r, 6, pause);
        assert!(!done);
        assert_eq!(got, ["H:k,t", "x,1"], "{b:?}");
        std::fs::write(dir.path().join("c.csv"), "k,t\ny,2\n").unwrap();
        let (more, _) = poll_until_done(&mut r, 10, pause);
        got.extend(more);
        if wait {
            // The unfinished header's writer has its grace: c.csv is not read yet.
            assert_eq!(got, ["H:k,t", "x,1"], "{b:?}");
            std::thread::sleep(ROTATION_GRACE);
            let (more, _) = poll_until_done(&mut r, 6, pause);
            got.extend(more);
        }
        assert_eq!(got, ["H:k,t", "x,1", "H:k,t", "y,2"], "{b:?}");
    }
}

/// A followed file truncated in place, or replaced by a rename, is read again from its
/// start (as `tail -F` does), its lines numbered from 1 again; before, the truncated
/// file was read on from the old offset (losing records) and the replaced one never.
#[test]
fn a_followed_file_truncated_or_replaced_is_read_again_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    std::fs::write(&a, "one\ntwo\nthree\n").unwrap();
    let pattern = dir.path().join("*.jsonl").to_string_lossy().into_owned();
    let mode = ReadMode::Follow { exit_at_end: false };
    let mut r = FileReader::open(&pattern, 0, 1, mode, false).unwrap();
    let mut got = Vec::new();
    let mut poll = |r: &mut FileReader| {
        let mut ids = Vec::new();
        r.poll(1 << 20, |item| {
            if let Item::Line(l, id) = item {
                ids.push((String::from_utf8(l.to_vec()).unwrap(), id))
            }
        })
        .unwrap();
        for (l, id) in ids {
            got.push((l, r.resolve(id).1));
        }
    };
    poll(&mut r);
    // Truncated, then a shorter content written.
    std::fs::write(&a, "four\n").unwrap();
    poll(&mut r);
    poll(&mut r);
    // Replaced by a rename (a new inode at the path).
    let tmp = dir.path().join("a.tmp");
    std::fs::write(&tmp, "five\nsix\n").unwrap();
    std::fs::rename(&tmp, &a).unwrap();
    poll(&mut r);
    poll(&mut r);
    let want = [
        ("one", 1),
        ("two", 2),
        ("three", 3),
        ("four", 1),
        ("five", 1),
        ("six", 2),
    ];
    let want: Vec<(String, u64)> = want.iter().map(|(l, n)| (l.to_string(), *n)).collect();
    assert_eq!(got, want);
}

/// A byte-order mark at a CSV file's start, alone on its line, is a blank line before
/// the header (it had been taken for the header); on the header's line it is no part of
/// the first name.
#[test]
fn a_byte_order_mark_is_no_part_of_the_csv_header() {
    for text in ["\u{feff}\nts,k\n1,a\n", "\u{feff}ts,k\n1,a\n"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), text).unwrap();
        let pattern = dir.path().join("*.csv").to_string_lossy().into_owned();
        let mut r = FileReader::open(&pattern, 0, 1, ReadMode::Bounded, true).unwrap();
        let (got, done) = poll_until_done(&mut r, 5, Duration::ZERO);
        assert!(done);
        assert_eq!(got, ["H:ts,k", "1,a"], "{text:?}");
    }
}

/// At a stop, the followed file's unfinished last line is reported (it is not read: its
/// writer may be mid-line); complete lines leave nothing to report.
#[test]
fn a_stop_reports_the_followed_files_unfinished_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    std::fs::write(&a, "1\n2\n").unwrap();
    let pattern = dir.path().join("*.jsonl").to_string_lossy().into_owned();
    let mode = ReadMode::Follow { exit_at_end: false };
    let mut r = FileReader::open(&pattern, 0, 1, mode, false).unwrap();
    poll_until_done(&mut r, 2, Duration::ZERO);
    assert_eq!(r.unread_at_stop(), None);
    let mut f = File::options().append(true).open(&a).unwrap();
    write!(f, "{{\"k\":").unwrap();
    poll_until_done(&mut r, 2, Duration::ZERO);
    let warning = r.unread_at_stop().expect("the unfinished line is reported");
    assert!(
        warning.contains(&format!(
            "`{}` ends in an unfinished line (5 bytes",
            a.display()
        )),
        "{warning}"
    );
}

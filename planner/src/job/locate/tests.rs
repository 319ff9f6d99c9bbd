use super::Seg::{Entry, Index, Key};
use super::*;

fn value(text: &str, path: &[Seg]) -> Option<Spot> {
    Doc::parse(text).find(path).map(|f| f.value)
}

fn key(text: &str, path: &[Seg]) -> Option<Spot> {
    Doc::parse(text).find(path).map(|f| f.key)
}

const JOB: &str = "\
# sinks: path: out.jsonl, name: out (a comment naming the same things)
name: rides   # sources, sinks
sources:
  - name: events
    connector: file
    path: \"data/#1/*.jsonl\" # quoted '#'
    schema:
      user_id: string!
      fare: float
    event_time: t
features:
  - name: f
    sql: |
      SELECT name: x
      path: y
    # sinks: [out]
sinks:
- { name: out, connector: file, path: x }
- name: other
  path: out/o.jsonl
";

#[test]
fn block_and_flow_paths_find_their_lines() {
    assert_eq!(value(JOB, &[Key("name")]), Some((2, 7)));
    assert_eq!(
        value(JOB, &[Key("sources"), Index(0), Key("path")]),
        Some((6, 11))
    );
    assert_eq!(
        key(JOB, &[Key("sources"), Index(0), Key("path")]),
        Some((6, 5))
    );
    assert_eq!(key(JOB, &[Key("sources"), Index(0)]), Some((4, 3)));
    assert_eq!(
        value(
            JOB,
            &[Key("sources"), Index(0), Key("schema"), Entry(1, "fare")]
        ),
        Some((9, 13))
    );
    assert_eq!(
        value(JOB, &[Key("features"), Index(0), Key("sql")]),
        Some((13, 10))
    );
    // The block scalar's lines are SQL, not keys; the comment is not a key either.
    assert_eq!(Doc::parse(JOB).len(&[Key("features"), Index(0)]), Some(2));
    assert_eq!(
        value(JOB, &[Key("sinks"), Index(0), Key("path")]),
        Some((18, 39))
    );
    assert_eq!(
        key(JOB, &[Key("sinks"), Index(0), Key("name")]),
        Some((18, 5))
    );
    assert_eq!(
        value(JOB, &[Key("sinks"), Index(1), Key("path")]),
        Some((20, 9))
    );
    assert_eq!(key(JOB, &[Key("sinks"), Index(1)]), Some((19, 1)));
    let doc = Doc::parse(JOB);
    assert_eq!(
        doc.scalar(&[Key("sources"), Index(0), Key("path")]),
        Some("data/#1/*.jsonl")
    );
    assert_eq!(doc.scalar(&[Key("name")]), Some("rides"));
    assert_eq!(
        doc.scalar(&[Key("sinks"), Index(0), Key("name")]),
        Some("out")
    );
    assert_eq!(doc.len(&[Key("sinks")]), Some(2));
    // Paths that are not there find nothing.
    assert_eq!(value(JOB, &[Key("sinks"), Index(2)]), None);
    assert_eq!(value(JOB, &[Key("sources"), Index(0), Key("topic")]), None);
    assert_eq!(value(JOB, &[Key("name"), Index(0)]), None);
}

#[test]
fn duplicate_keys_are_reached_by_entry_only() {
    let text = "schema:\n  a: int\n  b: int\n  a: string\n";
    assert_eq!(value(text, &[Key("schema"), Key("a")]), None);
    assert_eq!(value(text, &[Key("schema"), Key("b")]), Some((3, 6)));
    assert_eq!(key(text, &[Key("schema"), Entry(2, "a")]), Some((4, 3)));
    assert_eq!(key(text, &[Key("schema"), Entry(2, "b")]), None);
    let flow = "schema: {a: int,\n  a: string}\n";
    assert_eq!(key(flow, &[Key("schema"), Entry(1, "a")]), Some((2, 3)));
}

#[test]
fn multi_line_scalars_and_flows_keep_later_lines_right() {
    let text = "\
a: 'one
  two'
b: \"x\\
  y\" # c
c: plain
  continued

  more
d: [1,
  # note
  {e: 2, f: 'it''s'}]
g: >-
  folded: not a key
h: &anchor v
i: *anchor
j:
  &m
  k: 1
";
    let doc = Doc::parse(text);
    assert_eq!(doc.scalar(&[Key("a")]), Some("one two"));
    assert_eq!(doc.scalar(&[Key("b")]), Some("xy"));
    assert_eq!(doc.scalar(&[Key("c")]), Some("plain continued\nmore"));
    assert_eq!(value(text, &[Key("d"), Index(1), Key("f")]), Some((11, 13)));
    assert_eq!(doc.scalar(&[Key("d"), Index(1), Key("f")]), Some("it's"));
    assert_eq!(key(text, &[Key("h")]), Some((14, 1)));
    assert_eq!(doc.scalar(&[Key("h")]), Some("v"));
    assert_eq!(doc.find(&[Key("i")]).map(|f| f.value), Some((15, 4)));
    assert_eq!(doc.scalar(&[Key("i")]), None, "an alias is not read");
    assert_eq!(value(text, &[Key("j"), Key("k")]), Some((18, 6)));
}

#[test]
fn what_it_does_not_read_locates_nothing() {
    for text in [
        "a: !!str x\nb: 1\n",
        "a: 1\n---\nb: 2\n",
        "? a\n: 1\n",
        "a:\n\tb: 1\n",
        "a: 'unterminated\n",
        "a: {b: 1\n",
    ] {
        assert_eq!(value(text, &[Key("a")]), None, "{text}");
    }
    // A document start and a byte-order mark are fine.
    assert_eq!(value("---\na: 1\n", &[Key("a")]), Some((2, 4)));
    assert_eq!(key("\u{feff}a: 1\nb: 2\n", &[Key("a")]), Some((1, 2)));
    assert_eq!(key("\u{feff}a: 1\nb: 2\n", &[Key("b")]), Some((2, 1)));
}

/// The reader's tree has the YAML parser's shape and strings.
fn same(node: &Node, value: &serde_norway::Value) -> bool {
    use serde_norway::Value as V;
    match (&node.kind, value) {
        (Kind::Map(entries), V::Mapping(m)) => {
            entries.len() == m.len()
                && entries.iter().zip(m).all(|((k, _, n), (mk, mv))| {
                    let mk = match mk {
                        V::String(s) => s.clone(),
                        other => serde_norway::to_string(other).unwrap().trim().to_string(),
                    };
                    *k == mk && same(n, mv)
                })
        }
        (Kind::Seq(items), V::Sequence(s)) => {
            items.len() == s.len() && items.iter().zip(s).all(|((_, n), v)| same(n, v))
        }
        (Kind::Scalar(Some(t)), V::String(s)) => t == s,
        // Not read (a block scalar, an alias): paths into it find nothing.
        (Kind::Scalar(None), _) => true,
        (Kind::Scalar(_), V::Number(_) | V::Bool(_) | V::Null) => true,
        _ => false,
    }
}

#[test]
fn the_repository_s_yaml_files_read_as_the_yaml_parser_reads_them() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["configs/examples", "configs/infra", "benches/jobs"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    for e in std::fs::read_dir(root.join("tests/golden")).unwrap() {
        files.push(e.unwrap().path().join("job.yaml"));
    }
    let mut texts: Vec<(String, String)> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && p.exists())
        .map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap()))
        .collect();
    assert!(texts.len() >= 20, "{}", texts.len());
    texts.push(("JOB".into(), JOB.into()));
    for (name, text) in texts {
        let doc = Doc::parse(&text);
        let value: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        let root = doc
            .root
            .as_ref()
            .unwrap_or_else(|| panic!("{name} not read"));
        assert!(same(root, &value), "{name} read differently");
    }
}

#[test]
fn other_styles_read_as_the_yaml_parser_reads_them() {
    for text in [
        "a: b # c\nd: 'e # f'\ng: \"h: i\"\n",
        "a:\n- b\n- c: d\n  e: f\ng: h\n",
        "a: [b, {c: d}, [e]]\nf: {g: [1, 2], h: 'x, y', i: http://x/y}\n",
        "a: |\n  x\n  y: z\n\nb: >+\n  x\n\nc: d\n",
        "- a\n- - b\n  - c\n-\n  d: e\n",
        "a:\n  - b:\n      c: d\n    e: f\n  - g\n",
        "a: b\n  c\n  # not text\nd: e\n",
        "'a b': c\n\"d\": e\n? f\n",
        "a: 'x''y'\nb: \"\\u00e9\"\nc:\nd: ~\n...\n",
        "a: {\n  b: 1,\n  c: [2,\n    3],\n}\n",
        "a: &x {b: 1}\nc: *x\n",
    ] {
        let doc = Doc::parse(text);
        let Ok(value) = serde_norway::from_str::<serde_norway::Value>(text) else {
            panic!("not YAML: {text}");
        };
        match &doc.root {
            Some(root) => assert!(same(root, &value), "read differently: {text}"),
            None => assert!(text.contains('?'), "not read: {text}"),
        }
    }
}

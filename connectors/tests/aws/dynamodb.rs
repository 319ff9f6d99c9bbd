//! DynamoDB sink: upserts where newer windows win, TTL, errors.

use super::*;

fn dynamo_table(aws: &Aws) -> String {
    connectors::aws::local::create_table(aws, "features")
}

fn update(user: &str, count: i64, we: i64, revision: u32, deleted: bool) -> FeatureUpdate {
    FeatureUpdate {
        feature: "clicks".into(),
        version: 2,
        key: vec![Value::Str(user.into())],
        values: vec![
            ("user_id".into(), Value::Str(user.into())),
            ("n".into(), Value::Int(count)),
            ("avg".into(), Value::Float(1.5)),
            ("seen".into(), Value::Bool(true)),
            ("last".into(), Value::Null),
        ],
        window_start: we - 60_000,
        window_end: we,
        revision,
        deleted,
        json: Vec::new(),
    }
}

fn expected_item(
    user: &str,
    count: i64,
    we: i64,
    revision: u32,
) -> HashMap<String, AttributeValue> {
    let n = |v: i64| AttributeValue::N(v.to_string());
    HashMap::from([
        (
            "pk".to_string(),
            AttributeValue::S(format!("clicks:2:{user}")),
        ),
        ("user_id".to_string(), AttributeValue::S(user.into())),
        ("n".to_string(), n(count)),
        ("avg".to_string(), AttributeValue::N("1.5".into())),
        ("seen".to_string(), AttributeValue::Bool(true)),
        ("last".to_string(), AttributeValue::Null(true)),
        ("window_start".to_string(), n(we - 60_000)),
        ("window_end".to_string(), n(we)),
        ("revision".to_string(), n(revision as i64)),
        ("_run".to_string(), n(run_id() as i64)),
    ])
}

fn scan(aws: &Aws, table: &str) -> BTreeMap<String, HashMap<String, AttributeValue>> {
    let resp = aws
        .block_on(aws.dynamodb().scan().table_name(table).send())
        .unwrap();
    resp.items()
        .iter()
        .map(|i| {
            let AttributeValue::S(pk) = &i["pk"] else {
                panic!("pk")
            };
            (pk.clone(), i.clone())
        })
        .collect()
}

#[test]
fn dynamodb_newer_windows_win() {
    let aws = aws();
    let table = dynamo_table(&aws);
    let mut sink = DynamoSink::open(aws_clone(), &table, None).unwrap();
    let t = 1_800_000_000_000;
    sink.write_batch(&[
        update("a", 1, t, 0, false),
        update("b", 5, t, 0, false),
        update("c", 7, t, 0, false),
    ])
    .unwrap();
    // a: a newer window replaces; b: an older window is ignored (not an error); c: same
    // window, higher revision replaces, then a lower revision is ignored.
    sink.write_batch(&[
        update("a", 2, t + 60_000, 0, false),
        update("b", 4, t - 60_000, 3, false),
        update("c", 8, t, 1, false),
        update("c", 6, t, 0, false),
    ])
    .unwrap();
    let items = scan(&aws, &table);
    let want = BTreeMap::from([
        (
            "clicks:2:a".to_string(),
            expected_item("a", 2, t + 60_000, 0),
        ),
        ("clicks:2:b".to_string(), expected_item("b", 5, t, 0)),
        ("clicks:2:c".to_string(), expected_item("c", 8, t, 1)),
    ]);
    assert_eq!(items, want);
    // A withdrawal of an older window does nothing; of the stored window, leaves a marker
    // of it (no value attributes).
    sink.write_batch(&[update("a", 0, t, 1, true), update("b", 0, t, 1, true)])
        .unwrap();
    let marker = |user: &str, we: i64, revision: i64| {
        let n = |v: i64| AttributeValue::N(v.to_string());
        HashMap::from([
            (
                "pk".to_string(),
                AttributeValue::S(format!("clicks:2:{user}")),
            ),
            ("window_start".to_string(), n(we - 60_000)),
            ("window_end".to_string(), n(we)),
            ("revision".to_string(), n(revision)),
            ("_run".to_string(), n(run_id() as i64)),
            ("deleted".to_string(), AttributeValue::Bool(true)),
        ])
    };
    let items = scan(&aws, &table);
    assert_eq!(items["clicks:2:a"], expected_item("a", 2, t + 60_000, 0));
    assert_eq!(items["clicks:2:b"], marker("b", t, 1));
    // A late correction of an older window does not come back after the newest window was
    // withdrawn (it did when the withdrawal deleted the item).
    sink.write_batch(&[update("b", 9, t - 60_000, 4, false)])
        .unwrap();
    assert_eq!(scan(&aws, &table)["clicks:2:b"], marker("b", t, 1));
    // Within one batch, one key's updates apply in order: put then withdraw.
    sink.write_batch(&[update("d", 1, t, 0, false), update("d", 0, t, 1, true)])
        .unwrap();
    assert_eq!(scan(&aws, &table)["clicks:2:d"], marker("d", t, 1));
    // The withdrawn window shown again at a later revision replaces the marker.
    sink.write_batch(&[update("b", 6, t, 2, false)]).unwrap();
    assert_eq!(
        scan(&aws, &table)["clicks:2:b"],
        expected_item("b", 6, t, 2)
    );
    // A withdrawal of a newer window than the stored one, or of a key with nothing stored,
    // leaves its marker: the entity's newest window has no value.
    sink.write_batch(&[
        update("b", 0, t + 60_000, 1, true),
        update("e", 0, t, 1, true),
    ])
    .unwrap();
    let items = scan(&aws, &table);
    assert_eq!(items["clicks:2:b"], marker("b", t + 60_000, 1));
    assert_eq!(items["clicks:2:e"], marker("e", t, 1));
}

/// Revisions restart at 0 in every run: for the stored window a later run's value replaces
/// an earlier run's whatever the revisions, and the earlier run's writes no longer land
/// (found by QA: a rebuild from `start: earliest` left a stopped run's partial value,
/// revision 1, over its own correct revision 0).
#[test]
fn dynamodb_a_later_run_replaces_the_stored_window_whatever_its_revision() {
    let aws = aws();
    let table = dynamo_table(&aws);
    let t = 1_800_000_000_000;
    let mut first = DynamoSink::open(aws_clone(), &table, None).unwrap();
    first.set_run(100);
    let mut later = DynamoSink::open(aws_clone(), &table, None).unwrap();
    later.set_run(200);
    first.write_batch(&[update("a", 2, t, 1, false)]).unwrap();
    later.write_batch(&[update("a", 4, t, 0, false)]).unwrap();
    let n = |i: &HashMap<String, AttributeValue>, k: &str| match &i[k] {
        AttributeValue::N(v) => v.clone(),
        other => panic!("{k}: {other:?}"),
    };
    let item = &scan(&aws, &table)["clicks:2:a"];
    assert_eq!(
        (n(item, "n"), n(item, "revision"), n(item, "_run")),
        ("4".into(), "0".into(), "200".into())
    );
    // The earlier run, still writing, no longer lands on this window; a newer window does.
    first.write_batch(&[update("a", 3, t, 2, false)]).unwrap();
    assert_eq!(n(&scan(&aws, &table)["clicks:2:a"], "n"), "4");
    first
        .write_batch(&[update("a", 1, t + 60_000, 0, false)])
        .unwrap();
    assert_eq!(n(&scan(&aws, &table)["clicks:2:a"], "n"), "1");
}

/// A row the table refuses (a number past DynamoDB's range, 10^125: ValidationException)
/// is named alone, with its own error; the other rows of the batch, also later updates of
/// other keys, are written.
#[test]
fn dynamodb_a_refused_row_fails_alone() {
    let aws = aws();
    let table = dynamo_table(&aws);
    let mut sink = DynamoSink::open(aws_clone(), &table, None).unwrap();
    let mut big = update("big", 1, 1_000, 0, false);
    big.values[2].1 = Value::Float(1e200);
    let rejected = sink
        .write_batch(&[
            update("a", 1, 1_000, 0, false),
            big,
            update("b", 2, 1_000, 0, false),
        ])
        .unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let (index, e) = &rejected[0];
    assert_eq!(*index, 1);
    assert!(!e.retryable);
    assert!(
        e.message.contains("item `clicks:2:big`") && e.message.contains("ValidationException"),
        "{}",
        e.message
    );
    let items = scan(&aws, &table);
    assert_eq!(
        items.keys().collect::<Vec<_>>(),
        ["clicks:2:a", "clicks:2:b"]
    );
}

#[test]
fn dynamodb_ttl_is_epoch_seconds_from_now() {
    let aws = aws();
    let table = dynamo_table(&aws);
    let mut sink = DynamoSink::open(aws_clone(), &table, Some(3_600_000)).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    sink.write_batch(&[update("a", 1, 1_000, 0, false)])
        .unwrap();
    let items = scan(&aws, &table);
    let AttributeValue::N(ttl) = &items["clicks:2:a"]["ttl"] else {
        panic!("ttl")
    };
    let ttl: u64 = ttl.parse().unwrap();
    assert!((now + 3_600..=now + 3_610).contains(&ttl), "{ttl} vs {now}");
}

#[test]
fn dynamodb_missing_table_says_how_to_create_it() {
    let name = unique("notable");
    let err = DynamoSink::open(aws(), &name, None).err().unwrap();
    assert!(!err.retryable);
    assert!(
        err.message
            .contains(&format!("table `{name}` does not exist"))
            && err.message.contains("string hash key `pk`"),
        "{}",
        err.message
    );
}

/// A table keyed otherwise than by a string hash key `pk` alone fails the sink at open,
/// saying how (before, a numeric `pk` or a sort key passed, and every row became a
/// dead letter of a run that exited 0).
#[test]
fn dynamodb_a_table_with_another_key_fails_at_open() {
    use aws_sdk_dynamodb::types::{KeyType, ScalarAttributeType as T};
    use connectors::aws::local::create_table_keyed;
    let aws = aws();
    for (keys, says) in [
        (
            vec![("pk", T::N, KeyType::Hash)],
            "has hash key `pk` of type N, the sink writes a string (S)",
        ),
        (
            vec![("pk", T::S, KeyType::Hash), ("sk", T::S, KeyType::Range)],
            "has a sort key `sk`, the sink writes items keyed by `pk` alone",
        ),
        (
            vec![("id", T::S, KeyType::Hash)],
            "has hash key `id`, the sink writes `pk`",
        ),
    ] {
        let table = create_table_keyed(&aws, "keyed", &keys);
        let err = DynamoSink::open(super::aws(), &table, None)
            .err()
            .expect("refused");
        assert!(!err.retryable);
        assert!(
            err.message.contains(&format!("table `{table}` {says}")),
            "{}",
            err.message
        );
        assert!(err.message.contains("create-table"), "{}", err.message);
    }
    DynamoSink::open(super::aws(), &dynamo_table(&aws), None).expect("a string hash key `pk`");
}

/// A timestamp and a bool in the key are written into `pk` as the file sink's JSON
/// writes them (`true`, epoch ms), not as SQL literals (`TRUE`, `TIMESTAMP ...`); as
/// values they are `N` and `BOOL` attributes.
#[test]
fn dynamodb_keys_hold_timestamps_and_bools_as_the_file_sink_writes_them() {
    let aws = aws();
    let table = dynamo_table(&aws);
    let mut sink = DynamoSink::open(aws_clone(), &table, None).unwrap();
    let t = 1_767_225_600_000i64;
    let mut row = update("a", 1, t + 3_600_000, 0, false);
    row.key = vec![Value::Bool(true), Value::Ts(t), Value::Float(1.5)];
    row.values = vec![
        ("f".into(), Value::Bool(false)),
        ("last_seen".into(), Value::Ts(t)),
    ];
    sink.write_batch(&[row]).unwrap();
    let items = scan(&aws, &table);
    let pk = format!("clicks:2:true|{t}|1.5");
    let item = items
        .get(&pk)
        .unwrap_or_else(|| panic!("no item `{pk}`: {:?}", items.keys()));
    assert_eq!(item["f"], AttributeValue::Bool(false));
    assert_eq!(item["last_seen"], AttributeValue::N(t.to_string()));
}

//! The DynamoDB repository against the local emulator, each test in its own table.

use integrations::catalog::AuthMode;
use integrations::domain::{Account, ConnectionId, ConnectionStatus, IntegrationId, SyncSettings, UserId};
use integrations::store::{ConnectOutcome, NewConnection, SettingsChange, StoreError};
use integrations::testing::TestEnv;

fn new_connection(user: &str, account: &str, limit: Option<u32>) -> NewConnection {
    NewConnection {
        user_id: UserId::parse(user).unwrap(),
        connection_id: ConnectionId::generate(),
        integration_id: IntegrationId::parse("trello").unwrap(),
        auth_kind: AuthMode::ApiKey,
        secret_id: "test/secret".into(),
        credential_hint: "••••abcd".into(),
        account: Account { id: account.into(), name: "Ada".into(), workspace: None },
        display_name: "Trello".into(),
        settings: SyncSettings::default(),
        plan: integrations::domain::Plan::Free,
        connection_limit: limit,
    }
}

async fn created(env: &TestEnv, new: NewConnection) -> integrations::domain::Connection {
    match env.state.store.insert_connection(new).await.unwrap() {
        ConnectOutcome::Created(c) => *c,
        other => panic!("expected a new connection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stored_connection_reads_back_as_written_and_is_listed() {
    let env = TestEnv::new().await;
    let c = created(&env, new_connection("ada", "member-1", Some(3))).await;
    let read = env.state.store.get_connection(&c.user_id, &c.connection_id).await.unwrap();
    assert_eq!(read, c);
    let listed = env.state.store.list_connections(&c.user_id).await.unwrap();
    assert_eq!(listed, vec![c.clone()]);
    assert_eq!(env.state.store.connection_count(&c.user_id).await.unwrap(), 1);
    let audit = env.state.store.audit_entries(&c.user_id, 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "connected");
    env.cleanup().await;
}

#[tokio::test]
async fn the_same_account_cannot_be_connected_twice_and_names_the_existing_connection() {
    let env = TestEnv::new().await;
    let first = created(&env, new_connection("ada", "member-1", None)).await;
    let again = env.state.store.insert_connection(new_connection("ada", "member-1", None)).await.unwrap();
    assert!(
        matches!(again, ConnectOutcome::AlreadyConnected { existing: Some(ref id) } if *id == first.connection_id),
        "{again:?}"
    );
    // Nothing of the refused connection was written.
    assert_eq!(env.state.store.list_connections(&first.user_id).await.unwrap().len(), 1);
    assert_eq!(env.state.store.connection_count(&first.user_id).await.unwrap(), 1);
    // Another user may connect the same provider account.
    created(&env, new_connection("grace", "member-1", None)).await;
    env.cleanup().await;
}

#[tokio::test]
async fn the_connection_limit_is_enforced_by_the_write_itself() {
    // The count is checked inside the transaction that creates the connection, so it holds
    // without any read beforehand. (Run one after another: the emulator, unlike DynamoDB, does
    // not isolate concurrent transactions, so a concurrent version would test the emulator.)
    let env = TestEnv::new().await;
    let mut outcomes = Vec::new();
    for i in 0..5 {
        outcomes
            .push(env.state.store.insert_connection(new_connection("ada", &format!("m{i}"), Some(3))).await.unwrap());
    }
    let created = outcomes.iter().filter(|o| matches!(o, ConnectOutcome::Created(_))).count();
    assert_eq!(created, 3, "{outcomes:?}");
    assert!(matches!(outcomes[3], ConnectOutcome::LimitReached));
    let user = UserId::parse("ada").unwrap();
    assert_eq!(env.state.store.list_connections(&user).await.unwrap().len(), 3);
    assert_eq!(env.state.store.connection_count(&user).await.unwrap(), 3);
    env.cleanup().await;
}

#[tokio::test]
async fn turning_auto_sync_on_puts_the_connection_in_the_due_index_and_off_takes_it_out() {
    let env = TestEnv::new().await;
    let c = created(&env, new_connection("ada", "member-1", None)).await;
    let on = SettingsChange { auto_sync: Some(true), sync_interval_minutes: Some(15), ..Default::default() };
    let updated = env.state.store.update_settings(&c, &on).await.unwrap();
    assert!(updated.next_sync_at.is_some());
    assert_eq!(updated.version, c.version + 1);
    let raw = env
        .dynamo()
        .get_item()
        .table_name(&env.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S("USER#ada".into()))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(format!("CONN#{}", c.connection_id)))
        .send()
        .await
        .unwrap();
    let item = raw.item().unwrap();
    assert!(item["GSI1PK"].as_s().unwrap().starts_with("DUE#"));
    assert!(item["GSI1SK"].as_s().unwrap().ends_with(c.connection_id.as_str()));

    let off = SettingsChange { auto_sync: Some(false), ..Default::default() };
    let updated = env.state.store.update_settings(&updated, &off).await.unwrap();
    assert_eq!(updated.next_sync_at, None);
    let raw = env
        .dynamo()
        .get_item()
        .table_name(&env.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S("USER#ada".into()))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S(format!("CONN#{}", c.connection_id)))
        .send()
        .await
        .unwrap();
    assert!(!raw.item().unwrap().contains_key("GSI1PK"));
    env.cleanup().await;
}

#[tokio::test]
async fn a_settings_change_based_on_a_stale_version_is_refused() {
    let env = TestEnv::new().await;
    let c = created(&env, new_connection("ada", "member-1", None)).await;
    let rename = |name: &str| SettingsChange { display_name: Some(name.into()), ..Default::default() };
    env.state.store.update_settings(&c, &rename("first")).await.unwrap();
    let stale = env.state.store.update_settings(&c, &rename("second")).await;
    assert!(matches!(stale, Err(StoreError::Conflict)));
    let read = env.state.store.get_connection(&c.user_id, &c.connection_id).await.unwrap();
    assert_eq!(read.display_name, "first");
    env.cleanup().await;
}

#[tokio::test]
async fn deleting_a_connection_releases_its_account_and_its_place_in_the_limit() {
    let env = TestEnv::new().await;
    let c = created(&env, new_connection("ada", "member-1", Some(1))).await;
    env.state.store.mark_disconnecting(&c).await.unwrap();
    let marked = env.state.store.get_connection(&c.user_id, &c.connection_id).await.unwrap();
    assert_eq!(marked.status, ConnectionStatus::Disconnecting);
    env.state.store.delete_connection(&marked, None).await.unwrap();
    assert!(matches!(env.state.store.get_connection(&c.user_id, &c.connection_id).await, Err(StoreError::NotFound)));
    assert_eq!(env.state.store.connection_count(&c.user_id).await.unwrap(), 0);
    // The same account can be connected again, within the limit of one.
    created(&env, new_connection("ada", "member-1", Some(1))).await;
    let counters = env.state.store.integration_counters().await.unwrap();
    assert_eq!(counters.len(), 1);
    assert_eq!(counters[0].connections, 1);
    env.cleanup().await;
}

#[tokio::test]
async fn another_users_connection_is_not_found() {
    let env = TestEnv::new().await;
    let c = created(&env, new_connection("ada", "member-1", None)).await;
    let other = UserId::parse("mallory").unwrap();
    assert!(matches!(env.state.store.get_connection(&other, &c.connection_id).await, Err(StoreError::NotFound)));
    env.cleanup().await;
}

#[tokio::test]
async fn concurrent_spends_from_one_budget_never_take_more_than_it_holds() {
    use integrations::providers::Budget;
    use integrations::store::{Bucket, Spend};
    let env = TestEnv::new().await;
    let user = UserId::parse("ada").unwrap();
    let connection = ConnectionId::generate();
    // Ten requests an hour: nothing comes back while the spends race.
    let budget = Budget::per(10, 3600);
    let now = integrations::store::attrs::now();
    // Fifteen workers, each with its own view of the bucket, spend one request at the same moment.
    // (moto alone sometimes let two conditional writes on one version both succeed when many
    // arrived at once; the emulator as the tests start it, infra/local/scripts/emulator.py, takes
    // DynamoDB requests one at a time, as DynamoDB's conditions and transactions behave.)
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..15 {
        let store = env.state.store.clone();
        let mut bucket = Bucket::new(&user, &connection, budget);
        workers.spawn(async move { store.spend(&mut bucket, 1, now).await.unwrap() });
    }
    let spends = workers.join_all().await;
    let spent = spends.iter().filter(|s| matches!(s, Spend::Spent { .. })).count();
    assert_eq!(spent, 10, "{spends:?}");
    for spend in spends.iter().filter(|s| !matches!(s, Spend::Spent { .. })) {
        let Spend::Empty { wait } = spend else { unreachable!() };
        assert!(wait.as_secs() >= 1, "{wait:?}");
    }
    let level = env.state.store.bucket_level(&user, &connection).await.unwrap().unwrap();
    assert_eq!(level.available(&budget, now), 0.0);

    // 36 minutes later six have come back (one every 6 minutes): four are taken, not seven.
    let later = now + chrono::Duration::minutes(36);
    let mut bucket = Bucket::new(&user, &connection, budget);
    assert_eq!(env.state.store.spend(&mut bucket, 4, later).await.unwrap(), Spend::Spent { left: 2.0 });
    assert!(matches!(env.state.store.spend(&mut bucket, 7, later).await.unwrap(), Spend::Empty { .. }));
    env.cleanup().await;
}

/// Claims made at the same moment on one budget, most of their transactions cancelled by each
/// other's budget writes and tried again, never undo one another: every claim answered `Claimed`
/// is there afterwards, once, and the budget spent once per claim. (moto alone rolls a cancelled
/// transaction back by restoring the whole table as it was when that transaction began, which
/// wiped out claims other requests had just made; `infra/local/scripts/emulator.py` serializes
/// DynamoDB requests so that the emulator isolates transactions as DynamoDB does.)
#[tokio::test]
async fn concurrent_claims_on_one_budget_keep_every_claim_that_was_made() {
    use integrations::domain::AutomationId;
    use integrations::providers::Budget;
    use integrations::store::{ActionKey, Bucket, ClaimSpend};
    let env = TestEnv::new().await;
    let user = UserId::parse("ada").unwrap();
    let connection = ConnectionId::generate();
    let automation = AutomationId::generate();
    let budget = Budget::per(1000, 3600);
    let now = integrations::store::attrs::now();
    // Other items in the table, as a user's synced records are: moto's copy of the table for a
    // rollback takes longer, and more requests overlap it (with 1,000 of them, plain moto loses or
    // misreports a claim in every run tried).
    let filler = "x".repeat(1000);
    for batch in 0..40 {
        let writes = (0..25).map(|i| {
            let item = aws_sdk_dynamodb::types::PutRequest::builder()
                .item("PK", aws_sdk_dynamodb::types::AttributeValue::S("USER#filler".into()))
                .item("SK", aws_sdk_dynamodb::types::AttributeValue::S(format!("REC#{batch}#{i}")))
                .item("data", aws_sdk_dynamodb::types::AttributeValue::S(filler.clone()))
                .build()
                .unwrap();
            aws_sdk_dynamodb::types::WriteRequest::builder().put_request(item).build()
        });
        env.dynamo().batch_write_item().request_items(&env.table, writes.collect()).send().await.unwrap();
    }
    let mut workers = tokio::task::JoinSet::new();
    for i in 0..24 {
        let store = env.state.store.clone();
        let user = user.clone();
        let key = ActionKey { automation_id: automation.clone(), event: format!("item-{i}@v1"), step: 1 };
        let mut bucket = Bucket::new(&user, &connection, budget);
        workers.spawn(async move {
            loop {
                match store.claim_action_and_spend(&user, &key, &mut bucket, 1, now).await.unwrap() {
                    ClaimSpend::Claimed => return key,
                    ClaimSpend::Empty { .. } => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                    ClaimSpend::Taken(record) => panic!("{key:?} was claimed before: {record:?}"),
                }
            }
        });
    }
    let claimed = workers.join_all().await;
    assert_eq!(claimed.len(), 24);
    for key in &claimed {
        assert!(env.state.store.action_record(&user, key).await.is_ok(), "the claim of {key:?} was lost");
    }
    let level = env.state.store.bucket_level(&user, &connection).await.unwrap().unwrap();
    assert_eq!(level.available(&budget, now), 1000.0 - 24.0);
    env.cleanup().await;
}

#[tokio::test]
async fn audit_entries_expire_after_the_owners_plan_keeps_history() {
    use integrations::domain::Plan;
    let env = TestEnv::new().await;
    let mut premium = new_connection("grace", "member-2", None);
    premium.plan = Plan::Premium;
    created(&env, new_connection("ada", "member-1", None)).await;
    created(&env, premium).await;
    for (user, plan) in [("ada", Plan::Free), ("grace", Plan::Premium)] {
        let out = env
            .dynamo()
            .query()
            .table_name(&env.table)
            .key_condition_expression("PK = :pk AND begins_with(SK, :audit)")
            .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user}")))
            .expression_attribute_values(":audit", aws_sdk_dynamodb::types::AttributeValue::S("AUDIT#".into()))
            .send()
            .await
            .unwrap();
        let item = &out.items()[0];
        let ttl = integrations::store::table::TTL_ATTRIBUTE;
        let expires: i64 = item[ttl].as_n().unwrap().parse().unwrap();
        let days = (expires - chrono::Utc::now().timestamp()) as f64 / 86_400.0;
        assert!((days - f64::from(plan.history_days())).abs() < 0.01, "{user}: {days} days");
    }
    assert_eq!((Plan::Free.history_days(), Plan::Premium.history_days()), (30, 365));
    env.cleanup().await;
}

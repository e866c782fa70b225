//! A stored old-version event is read in the current shape, on either store.

use std::sync::Arc;

use infra::upcast::Upcasters;
use infra::{AnyEventStore, EventStore, ExpectedVersion, Metadata, NewEvent};
use serde_json::{Value, json};

use crate::harness::stream;

/// v1 of `TestRegistered` had one `role`; v2 has `roles`.
fn role_to_roles(mut data: Value) -> Result<Value, String> {
    let obj = data.as_object_mut().ok_or("not an object")?;
    let role = obj.remove("role").ok_or("missing role")?;
    obj.insert("roles".into(), Value::Array(vec![role]));
    Ok(data)
}

fn upcasters() -> Arc<Upcasters> {
    let mut u = Upcasters::standard();
    u.register("TestRegistered", 1, role_to_roles);
    Arc::new(u)
}

async fn old_event_reads_as_new(writer: AnyEventStore, reader: AnyEventStore) {
    let s = stream("upcast");
    let mut metadata = Metadata::anonymous();
    metadata.schema_version = 1;
    let old = NewEvent {
        event_id: uuid::Uuid::new_v4(),
        event_type: "TestRegistered".into(),
        data: json!({"name": "Ada", "role": "candidate"}),
        metadata,
    };
    writer
        .append(&s, ExpectedVersion::NoStream, vec![old])
        .await
        .expect("append v1");
    let read = reader.read_stream(&s, 1).await.expect("read");
    assert_eq!(read[0].data, json!({"name": "Ada", "roles": ["candidate"]}));
    assert_eq!(read[0].metadata.schema_version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let (writer, db) = crate::harness::postgres().await;
    let AnyEventStore::Postgres(pg) = &writer else {
        unreachable!()
    };
    let reader = AnyEventStore::Postgres(Arc::new(infra::postgres::PgEventStore::new(
        pg.pool().clone(),
        upcasters(),
    )));
    old_event_reads_as_new(writer.clone(), reader).await;
    let _ = db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventstoredb() {
    let Some(writer) = crate::harness::esdb("upcasting").await else {
        return;
    };
    let Ok(url) = std::env::var("EVENTSTORE_URL") else {
        return;
    };
    let reader = infra::esdb::EsdbEventStore::connect(&url, upcasters())
        .await
        .expect("connect");
    old_event_reads_as_new(writer, AnyEventStore::Esdb(Arc::new(reader))).await;
}

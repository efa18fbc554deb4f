//! Every type of this crate that holds a secret prints none of it: the master key, an opened
//! value (an own key's record, say), and the store with its day keys.

use bluezone_protocol::DayNumber;
use bluezone_store::{MasterKey, Store, Table};
use bluezone_testkit::secrets::{assert_hidden, secret};
use rand::SeedableRng;

#[test]
fn secrets_print_redacted() {
    let master = secret::<32>(0xA1);
    let key = MasterKey::from_bytes(master);
    let key_text = format!("{key:?} {key:#?}");
    assert!(key_text.contains("<redacted>"), "{key_text}");
    assert_hidden(&key_text, &master);

    let record = secret::<22>(0xC1);
    let mut store =
        Store::open_in_memory(&key, Box::new(rand::rngs::StdRng::seed_from_u64(5))).unwrap();
    let day = DayNumber::new(20_000);
    store.append(Table::OwnKeys, day, &record).unwrap();
    let values = store.read_day(Table::OwnKeys, day).unwrap();
    assert_eq!(values[0].value.as_slice(), record);
    let value_text = format!("{values:?} {values:#?}");
    assert!(value_text.contains("<redacted, 22 bytes>"), "{value_text}");
    assert_hidden(&value_text, &record);

    let store_text = format!("{store:?} {store:#?}");
    assert_hidden(&store_text, &master);
    assert_hidden(&store_text, &record);
}

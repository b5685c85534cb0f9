//! The history's cut mark (`historyCut`) is what tells a cut history from
//! a whole one once superseded entries leave it shorter than its limit:
//! both stored forms must read it back, absent too.

use serde_json::json;
use tier_engine::*;

#[test]
fn both_forms_read_the_historys_cut_mark_back() {
    let config = json!({
        "currency": "USD", "startDate": "2026-01-01T00:00:00Z",
        "tiers": [{"name": "Member", "earnRate": "1"}]
    });
    let p = Program::validate_new(serde_json::from_value(config).unwrap()).unwrap();
    let start = "2026-01-01T00:00:00Z".parse().unwrap();
    for mark in [None, Some(false), Some(true)] {
        let mut state = CustomerState::new(&p, start);
        state.history_cut = mark;
        for form in [tier_store::ItemFormat::Binary, tier_store::ItemFormat::Json] {
            let encoded = tier_store::encode_state_as(&state, form);
            let back = tier_store::decode_state(&encoded).unwrap();
            assert_eq!(back.history_cut, mark, "{form:?}");
            assert_eq!(back, state);
        }
    }
}

//! Single-table keys. Ids may contain `#`, so composite keys length-prefix
//! the program id: `a#b` + `c` and `a` + `b#c` never meet.

pub const CONFIG_POINTER: &str = "CONFIG";
/// A small item holding only the current config version (written with every
/// config change; orders no longer check it).
pub const CONFIG_VERSION: &str = "CONFIG_VERSION";
pub const STATE: &str = "STATE";
/// A customer's entry in the expiry index.
pub const EXPIRY: &str = "EXPIRY";
/// The sparse index the scheduled job reads instead of scanning.
pub const EXPIRY_INDEX: &str = "expiry";
/// Shards of the expiry index's partition key, so one busy day does not make
/// one hot partition.
pub const EXPIRY_SHARDS: u32 = 8;

pub fn program_pk(program: &str) -> String {
    format!("PROGRAM#{program}")
}

pub fn config_version_sk(version: u64) -> String {
    format!("CONFIG#{version:012}")
}

pub fn customer_pk(program: &str, customer: &str) -> String {
    format!("CUSTOMER#{}:{program}#{customer}", program.len())
}

pub fn order_sk(order: &str) -> String {
    format!("ORDER#{order}")
}

pub fn return_sk(ret: &str) -> String {
    format!("RETURN#{ret}")
}

pub fn redemption_sk(redemption: &str) -> String {
    format!("REDEMPTION#{redemption}")
}

/// A stable hash of a customer's partition key (FNV-1a: no dependency, the
/// same on every platform and release).
fn shard_of(pk: &str) -> u32 {
    let mut hash: u32 = 0x811c9dc5;
    for b in pk.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x01000193);
    }
    hash % EXPIRY_SHARDS
}

/// A short fixed-size name for a partition key where the key itself could
/// pass an index key's 1,024 bytes (ids of 128 four-byte characters): the
/// 64-bit FNV-1a, in hex.
pub fn short_name(pk: &str) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in pk.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

pub fn expiry_shard(pk: &str) -> String {
    format!("E#{}", shard_of(pk))
}

/// A notice item's sort key: the customer's notices in order.
pub fn notice_sk(seq: u64) -> String {
    format!("NOTICE#{seq:012}")
}

/// The feed partitions of a program's notices in the sparse index (the
/// same index as the job's: notice items fill other partitions of it, so
/// no second index and no table migration). Sharded like the job's, so no
/// one partition takes every notice of a busy program.
pub fn feed_shard(program: &str, shard: u32) -> String {
    format!("N#{}:{program}#{shard}", program.len())
}

pub fn feed_shard_of(program: &str, pk: &str) -> String {
    feed_shard(program, shard_of(pk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_separators_do_not_collide() {
        assert_ne!(customer_pk("a#b", "c"), customer_pk("a", "b#c"));
    }
}

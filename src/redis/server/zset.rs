//! Sorted sets (t_zset.c): not modelled yet; its commands are refused as unsupported.

use crate::jemalloc::Arena;
use crate::redis::profile::RedisProfile;

use super::dispatch::{unsupported, Cmd, Reply};
use super::value::{Aggregate, Mem, Value, ValueType};
use super::Server;

/// A value of this type (not modelled yet: never created).
#[derive(Debug, Clone)]
pub(super) struct ZsetValue;

impl ValueType for ZsetValue {
    fn free(self, _mem: &mut Mem<'_>) {}

    fn footprint(&self, _arena: &Arena) -> u64 {
        0
    }

    fn object_size(&self, _arena: &Arena, _profile: &RedisProfile) -> u64 {
        0
    }
}

impl Aggregate for ZsetValue {
    fn create(_mem: &mut Mem<'_>, _cmd: Cmd, _args: &[&[u8]]) -> Self {
        ZsetValue
    }

    fn write(&mut self, _mem: &mut Mem<'_>, _cmd: Cmd, _args: &[&[u8]]) -> i64 {
        0
    }

    fn is_empty(&self) -> bool {
        true
    }

    fn into_value(self) -> Value {
        Value::Zset(Box::new(self))
    }

    fn of_value(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Zset(v) => Some(&mut **v),
            _ => None,
        }
    }
}

impl Server {
    /// ZADD, ZINCRBY, ZREM, ZREMRANGEBYRANK: not modelled yet.
    pub(super) fn zset_command(&mut self, _cmd: Cmd, _argv: &[&[u8]]) -> Result<(), Reply> {
        unsupported("this type is not modelled yet")
    }
}

//! Lists (t_list.c, quicklist.c): not modelled yet; its commands are refused as unsupported.

use crate::jemalloc::Arena;
use crate::redis::profile::RedisProfile;

use super::dispatch::{unsupported, Cmd, Reply};
use super::value::{Aggregate, Mem, Value, ValueType};
use super::Server;

/// A value of this type (not modelled yet: never created).
#[derive(Debug, Clone)]
pub(super) struct ListValue;

impl ValueType for ListValue {
    fn free(self, _mem: &mut Mem<'_>) {}

    fn footprint(&self, _arena: &Arena) -> u64 {
        0
    }

    fn object_size(&self, _arena: &Arena, _profile: &RedisProfile) -> u64 {
        0
    }
}

impl Aggregate for ListValue {
    fn create(_mem: &mut Mem<'_>, _cmd: Cmd, _args: &[&[u8]]) -> Self {
        ListValue
    }

    fn write(&mut self, _mem: &mut Mem<'_>, _cmd: Cmd, _args: &[&[u8]]) -> i64 {
        0
    }

    fn is_empty(&self) -> bool {
        true
    }

    fn into_value(self) -> Value {
        Value::List(Box::new(self))
    }

    fn of_value(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::List(v) => Some(&mut **v),
            _ => None,
        }
    }
}

impl Server {
    /// LPUSH, RPUSH, LPOP, RPOP, LTRIM, LREM: not modelled yet.
    pub(super) fn list_command(&mut self, _cmd: Cmd, _argv: &[&[u8]]) -> Result<(), Reply> {
        unsupported("this type is not modelled yet")
    }
}

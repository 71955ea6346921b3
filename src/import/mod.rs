//! Importing a user's data, a dump or a live server, to turn it into a scenario the model can
//! replay: [`rdb`] reads a Redis or Valkey dump file key by key and measures each.

pub mod rdb;

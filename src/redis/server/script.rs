//! The script cache of EVAL (eval.c: `evalGenericCommand`, `luaCreateFunction`, and
//! `scriptingReset` for SCRIPT FLUSH): each new script body keeps its sha, its body object, a
//! `luaScript` struct and a dict entry in the server's heap, and its compiled function on the
//! Lua heap (jemalloc or libc malloc, as the build has it). EVALSHA of a cached script
//! allocates nothing; what a script runs is not modelled.

use crate::redis::dict::Dict;
use crate::redis::heap::Alloc;

use super::dispatch::Reply;
use super::string::StringValue;
use super::value::ValueType;
use super::{DetMap, Server};

/// One cached script.
#[derive(Debug, Clone)]
struct Script {
    sha: Alloc,
    body: StringValue,
    lua_struct: Alloc,
    entry: Alloc,
    /// The compiled function on the Lua heap (`id` `u32::MAX`: outside the allocator model).
    lua_heap: Alloc,
    /// Bytes `used_memory_scripts` counts for it (sha and body).
    accounted: u64,
}

/// The script cache.
#[derive(Debug, Clone, Default)]
pub(super) struct Scripts {
    scripts: DetMap<Vec<u8>, Script>,
    /// The `lua_scripts` dict's tables.
    pub(super) dict: Dict,
    /// `lua_scripts_mem`: the cached scripts' sha and body bytes.
    pub(super) mem: u64,
    /// Bytes of the Lua heap the compiled scripts take.
    pub(super) lua_heap: u64,
}

impl Scripts {
    /// Number of cached scripts.
    pub(super) fn count(&self) -> u64 {
        self.scripts.len() as u64
    }
}

/// The script cache key: the SHA1 of the body in lower-case hex, as EVALSHA names it.
pub fn script_sha(body: &[u8]) -> Vec<u8> {
    sha1_smol::Sha1::from(body).digest().to_string().into_bytes()
}

impl Server {
    /// `EVAL script numkeys ...` / `EVALSHA sha numkeys ...`: EVAL of a script not cached yet
    /// caches it (`luaCreateFunction`: the sha sds, the body object taken from the arguments, a
    /// `luaScript` struct, a dict entry; the compiled function on the Lua heap). EVALSHA of an
    /// unknown sha is refused (NOSCRIPT).
    pub(super) fn eval_command(
        &mut self,
        eval: bool,
        argv: &[&[u8]],
        objs: &mut [Option<StringValue>],
    ) -> Result<(), Reply> {
        if argv.len() < 3 {
            return Err(Reply::Unsupported("EVAL needs a script and numkeys".into()));
        }
        let sha_key: Vec<u8> = if eval {
            script_sha(argv[1])
        } else {
            argv[1].to_ascii_lowercase()
        };
        if eval && !self.scripts.scripts.contains_key(&sha_key) {
            let sha = self.heap.zmalloc(self.profile.sds_request(40));
            let body = objs[1].take().expect("the script argument, parsed");
            let body_mem = body.bytes_usable();
            let lua_struct = self.heap.zmalloc(self.profile.lua_script_struct);
            self.scripts
                .dict
                .add(&mut self.heap, self.profile.dict_initial_size);
            let entry = self.heap.zmalloc(self.profile.dict_entry);
            let heap_bytes = self.profile.lua_heap_per_script + argv[1].len() as u64;
            let lua_heap = if self.profile.lua_uses_jemalloc {
                self.heap.malloc_other(heap_bytes)
            } else {
                Alloc {
                    id: u32::MAX,
                    requested: heap_bytes.min(u32::MAX as u64) as u32,
                    usable: heap_bytes,
                }
            };
            self.scripts.lua_heap += heap_bytes;
            let accounted = sha.usable + body_mem;
            self.scripts.mem += accounted;
            self.scripts.scripts.insert(
                sha_key,
                Script {
                    sha,
                    body,
                    lua_struct,
                    entry,
                    lua_heap,
                    accounted,
                },
            );
        } else if !self.scripts.scripts.contains_key(&sha_key) {
            return Err(Reply::Unsupported("NOSCRIPT".into()));
        }
        // The commands a script runs are not modelled (fragsim's scripts only read).
        Ok(())
    }

    /// `SCRIPT FLUSH`: every cached script freed, the Lua heap emptied, the dict's tables freed.
    pub(super) fn script_flush(&mut self) {
        let scripts: Vec<Script> = self.scripts.scripts.drain().map(|(_, s)| s).collect();
        for s in scripts {
            self.heap.zfree(s.entry);
            self.heap.zfree(s.lua_struct);
            self.heap.zfree(s.sha);
            s.body.free(&mut self.mem());
            if s.lua_heap.id != u32::MAX {
                self.heap.free_other(s.lua_heap);
            }
            self.scripts.mem -= s.accounted;
        }
        self.scripts.lua_heap = 0;
        self.scripts.dict.clear(&mut self.heap);
    }
}

//! INFO on the server side (server.c: `genRedisInfoString`, `getMemoryOverheadData`): what the
//! command allocates while it builds its text, and how the server gathers the figures of
//! `INFO memory` — `used_memory`, the peak, the overhead of clients, databases and scripts, the
//! cron's allocator and RSS samples — that [`InfoMemory::compute`] turns into the section.

use crate::redis::heap::Alloc;
use crate::redis::info::{InfoMemory, RawFigures};

use super::Server;

impl Server {
    /// `INFO [section]`: `genRedisInfoString` raises the peak to the current used_memory, then
    /// builds the text, everything it allocated freed once the reply is copied to the client.
    pub(super) fn info_command(&mut self, argv: &[&[u8]]) {
        self.peak = self.peak.max(self.used_memory());
        if argv.len() == 2 && argv[1].eq_ignore_ascii_case(b"memory") {
            self.info_memory_allocations();
        } else {
            // The overhead report (zcalloc'd), vsnprintf's buffer and the reply sds.
            let tmp: Vec<Alloc> = [256, 3072, 3072].iter().map(|&s| self.heap.zmalloc(s)).collect();
            for a in tmp.into_iter().rev() {
                self.heap.zfree(a);
            }
        }
    }

    /// The allocations of `INFO memory` on Redis 7.0.15 (traced on the Debian build): the
    /// section dict `genInfoSectionDict` makes (dict, 4-bucket table, the name "memory", its
    /// entry), the empty info sds, a 48-byte block made and freed, the overhead report
    /// `getMemoryOverheadData` makes (200 B, 32 B more when a database holds keys), the
    /// `sdscatprintf` buffer and the grown info sds (a new block: its type changes); then the
    /// reply is queued and everything freed.
    fn info_memory_allocations(&mut self) {
        let dict: Vec<Alloc> = [56, 32, 8, 24].iter().map(|&n| self.heap.zmalloc(n)).collect();
        let empty = self.heap.zmalloc(4);
        let t = self.heap.zmalloc(48);
        self.heap.zfree(t);
        let mh = self.heap.zmalloc(200);
        let dbs = (self.dbsize() > 0).then(|| self.heap.zmalloc(32));
        let buf = self.heap.zmalloc(2640);
        let text = self.heap.zmalloc(2796);
        self.heap.zfree(empty);
        self.heap.zfree(buf);
        if let Some(d) = dbs {
            self.heap.zfree(d);
        }
        self.heap.zfree(mh);
        self.reply_pending();
        self.heap.zfree(text);
        for a in dict.into_iter().rev() {
            self.heap.zfree(a);
        }
    }

    /// `INFO memory` as it stands now, with the clients that are connected now (none more):
    /// the figures a test's peak is taken from.
    pub fn info(&self) -> InfoMemory {
        self.info_of(&self.step_figures())
    }

    /// The raw figures of [`Server::info`]: what a run takes after every command (a copy of
    /// integers; [`Server::info_of`] turns them into the section when a value is needed).
    pub fn step_figures(&self) -> RawFigures {
        self.figures(0)
    }

    /// `INFO memory` as the measurement reads it: a fresh connection sends it once the test's
    /// clients are gone, so its own client counts in `used_memory` (and `INFO` raises
    /// `used_memory_peak` to it); the allocator and RSS figures are the cron's, from before it
    /// connected. The way the baseline was measured.
    pub fn measured_info(&self) -> InfoMemory {
        self.info_of(&self.measured_figures())
    }

    /// The raw figures of [`Server::measured_info`].
    pub fn measured_figures(&self) -> RawFigures {
        self.figures(self.measuring_client)
    }

    /// `INFO memory` from raw figures this server gave, with its `mem_allocator`.
    pub fn info_of(&self, figures: &RawFigures) -> InfoMemory {
        InfoMemory::compute(figures, self.profile.mem_allocator.clone())
    }

    /// What fragsim's own measurement does to the server after reading it: a client connects,
    /// sends `INFO memory` and leaves. Its allocations pass through the thread cache (and drive
    /// its garbage collection) like any client's.
    pub fn measurement_traffic(&mut self) {
        let c = self.connect();
        self.exec(c, &[b"INFO".to_vec(), b"memory".to_vec()])
            .expect("the client just connected");
        self.disconnect(c);
    }

    /// The raw figures of `INFO memory` with a measuring client of `client` bytes connected
    /// (0: none).
    fn figures(&self, client: u64) -> RawFigures {
        // What INFO prints: the cron's last sample of the allocator and RSS (and of used_memory
        // for mem_fragmentation_ratio), when measured; the live state while a test runs.
        let s = match self.cron_sample {
            Some(sample) if client > 0 => sample,
            _ => self.sample(),
        };
        let b = &self.profile.baseline;
        let used = self.used_memory() + client;
        let nkeys = self.keyspace.key_count();
        let (main, expires) = (&self.keyspace.main, &self.keyspace.expires);
        let db_overhead = if let Some(o) = self.keyspace.table_overhead(&self.profile) {
            o
        } else if let Some(o) = self.keyspace.slot_dicts_overhead(&self.profile) {
            o
        } else if nkeys == 0 {
            0
        } else {
            // getMemoryOverheadData: the main and expires tables, and in cluster mode the
            // slot-to-keys links in each keyspace entry (overhead_ht_slot_to_keys).
            nkeys * (self.profile.key_entry() + self.profile.robj)
                + main.slots() * 8
                + expires.used * self.profile.dict_entry
                + expires.slots() * 8
        };
        let scripts = &self.scripts;
        let lua_caches = scripts.mem
            + scripts.count() * (self.profile.dict_entry + self.profile.lua_script_struct)
            + scripts.dict.slots() * 8;
        let vm_eval = b.vm_eval + scripts.lua_heap;
        let script_vms = if self.profile.layout.overhead_counts_script_vms {
            vm_eval + b.vm_functions
        } else {
            0
        };
        let overhead = b.used_memory_startup
            + b.clients_normal
            + lua_caches
            + b.functions_caches
            + script_vms
            + db_overhead;
        RawFigures {
            used,
            peak: self.peak.max(used),
            overhead,
            startup: b.used_memory_startup,
            allocated: s.allocated,
            active: s.active,
            resident: s.resident,
            rss: s.rss,
            // mem_fragmentation_ratio relates the sample's two figures, taken together: with no
            // measuring client, the live used_memory; with one, the cron's (or the live one
            // without the client's, before the cron's first look).
            rss_used: s.used,
            vm_eval,
            vm_functions: b.vm_functions,
            scripts_eval: lua_caches,
            functions: b.functions_caches,
            nscripts: scripts.count(),
            maxmemory: self.maxmemory,
            clients_normal: b.clients_normal,
            frag_smallbins: s.frag_smallbins,
        }
    }
}

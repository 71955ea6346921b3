//! Lists (t_list.c, quicklist.c, listpack.c): Redis 7.0 keeps every list as a quicklist, a
//! doubly linked list of nodes that each hold one listpack; Redis 7.2+ keeps a small list as
//! one bare listpack (below).
//!
//! Modelled, allocation by allocation:
//! - `createQuicklistObject` (`quicklistCreate`, then the robj) when LPUSH/RPUSH find no key
//!   (`pushGenericCommand`);
//! - `quicklistPushHead`/`quicklistPushTail`: an element goes into the end node when
//!   `_quicklistNodeAllowInsert` lets it (the size limit of `list-max-listpack-size`, or its
//!   entry count and the 8 KiB safety limit), its listpack reallocated when it outgrows its
//!   block (`lpInsert`); otherwise a new node (`quicklistCreateNode`, `lpNew`, then the
//!   listpack reallocated for its first entry);
//! - LPOP/RPOP without a count (`popGenericCommand`, `quicklistPopCustom`): the popped element
//!   copied into a string object (`listPopSaver`; an integer entry becomes an integer object,
//!   shared or not, after the deletion), the entry deleted (`quicklistDelIndex`: `lpDelete`
//!   reallocates the listpack smaller; a node left empty is freed, `__quicklistDelNode`), the
//!   object freed once replied;
//! - LPOP/RPOP with a count: the reply walks the range with a list iterator
//!   (`addListRangeReply`, `listTypeInitIterator`), then `quicklistDelRange` deletes it;
//! - LTRIM (`ltrimCommand`): `quicklistDelRange` from the head, then from the tail: whole
//!   nodes freed, partly deleted nodes cut with `lpDeleteRange` and shrunk to fit
//!   (`lpShrinkToFit`);
//! - LREM (`lremCommand`): an iterator from the head (count >= 0) or the tail (count < 0),
//!   each matching entry deleted as `quicklistDelEntry` does; 7.0 merges no nodes on any of
//!   these paths;
//! - the key deleted when the list is left empty (`listElementsRemoved`, `dbDelete`), and
//!   `freeListObject` (`quicklistRelease`: each node's listpack then the node, head to tail,
//!   then the quicklist, then the robj);
//! - `objectComputeSize`'s quicklist case for MEMORY USAGE (`zmalloc_size(node->entry)`: a
//!   compressed node's LZF block);
//! - `list-compress-depth` > 0: the nodes more than `depth` from either end kept compressed
//!   with LZF ([`crate::redis::lzf`], sizes to the byte), as quicklist.c does it:
//!   `__quicklistCompress` after a node is added (for the old end node, then the new one) or
//!   freed (the nodes that come within the depth decompressed, the two just past it
//!   compressed), `__quicklistCompressNode` (only listpacks of 48 bytes or more: a block of
//!   8 + the listpack's bytes, freed when LZF gives up or saves 8 bytes or less, else
//!   reallocated to 8 + LZF's size and the listpack freed; a node that does not compress is
//!   tried again at each pass), `__quicklistDecompressNode` (a block of the listpack's bytes,
//!   the LZF block freed), the iterators of LREM and of a pop with a count decompressing each
//!   node they enter for use and recompressing it as they leave it, and `quicklistDelRange`
//!   doing the same for a node it cuts.
//!
//! Redis 7.2+ (`[layout] list_listpack`; redis 7.2.6 `src/t_list.c`, the same in 7.4.1,
//! 8.0.6 and Valkey 8.0.1 to 9.1.2 but for formatting and accessors): a small list is a bare
//! listpack (`OBJ_ENCODING_LISTPACK`):
//! - a new key is `createListListpackObject` (`lpNew(0)`, 7 bytes, then the robj);
//! - before a push, `listTypeTryConvertListpack` checks the listpack's bytes plus the
//!   arguments' lengths and its entries plus their number against one node's limit
//!   (`quicklistNodeExceedsLimit`): past it, the list becomes a quicklist whose one node holds
//!   the listpack as it is (`quicklistCreate`, `quicklistAppendListpack`), or, with no entry,
//!   the listpack freed; the elements are then pushed as above;
//! - pushes into the listpack (`lpAppend`/`lpPrepend`) reallocate it only past its block's
//!   usable size; pops copy the entry (an integer too) into a string object before
//!   `lpDelete`, which reallocates the listpack to its exact new size, as LREM's deletions
//!   do (its iterator, `listTypeIterator`, is 32 bytes from 7.2 on); a pop with a count and
//!   LTRIM use `lpDeleteRange`, which shrinks the listpack to fit;
//! - after a pop, LTRIM or an LREM that removed something, a quicklist left with one node
//!   within half of the node limits becomes a bare listpack again
//!   (`listTypeTryConvertQuicklist`: the node's listpack kept, the node then the quicklist
//!   freed);
//! - MEMORY USAGE of a bare listpack: the robj and the listpack's usable size;
//! - a pop with a count on a quicklist walks it with a quicklist iterator alone
//!   (`addListQuicklistRangeReply`), no list iterator.
//!
//! Not modelled (the commands are refused): elements of 1 GiB or more, which 7.0.15 keeps in
//! plain nodes (`packed_threshold`; beyond the default `proto-max-bulk-len` anyway). The reply
//! of a pop with a count is made after the model's iterator has run, where Redis allocates its
//! reply blocks as it walks: the same blocks, in another order among the iterator's.
//!
//! An element is kept as 12 bytes: a 64-bit hash of its bytes (LREM matches by content) and
//! its length with the kind of its listpack entry. A node is a compact record with its
//! elements in one deque; under `list-compress-depth` > 0 (only) it also keeps its listpack's
//! bytes, which LZF's output depends on.

use std::cell::Cell;
use std::collections::VecDeque;

use crate::jemalloc::Arena;
use crate::redis::encoding::{
    as_integer, encode_listpack_entry, listpack_entry, listpack_string_entry, LISTPACK_OVERHEAD,
};
use crate::redis::heap::Alloc;
use crate::redis::lzf;
use crate::redis::profile::RedisProfile;

use super::dispatch::{unsupported, Cmd, Reply};
use super::keytable::NameHasher;
use super::query::{array_reply_len, bulk_reply_len};
use super::string::StringValue;
use super::value::{add_sampled, listpack_structure, Aggregate, BlockKind, Blocks, Mem, Value, ValueType};
use super::Server;

/// `sizeof(listTypeIterator)` on 64-bit builds in 7.0 (subject pointer, two flag bytes, the
/// quicklist iterator pointer): allocated for LREM and for the reply of a pop with a count.
const LIST_TYPE_ITERATOR: u64 = 24;

/// `sizeof(listTypeIterator)` on 64-bit builds in Redis 7.2+ and Valkey (the listpack
/// iterator pointer `lpi` added: redis 7.2.6 `src/server.h`): allocated for LREM only.
const LIST_TYPE_ITERATOR_72: u64 = 32;

/// `sizeof(quicklistIter)` on 64-bit builds (quicklist, node and entry pointers, offset,
/// direction): `quicklistGetIteratorAtIdx` allocates one.
const QUICKLIST_ITER: u64 = 40;

/// `SIZE_SAFETY_LIMIT` (quicklist.c): no listpack of a node limited by entry count grows
/// past 8 KiB.
const SIZE_SAFETY_LIMIT: u64 = 8192;

/// `SIZE_ESTIMATE_OVERHEAD` (quicklist.c): what `_quicklistNodeAllowInsert` adds to an
/// element's length for its entry's header and back-length.
const SIZE_ESTIMATE_OVERHEAD: u64 = 8;

/// `optimization_level` (quicklist.c): the listpack size limit of `list-max-listpack-size`
/// -1 to -5.
const OPTIMIZATION_LEVEL: [u64; 5] = [4096, 8192, 16384, 32768, 65536];

/// `packed_threshold` (quicklist.c, 1 GiB by default): an element this long goes into a plain
/// node of its own (not modelled).
const PACKED_THRESHOLD: u64 = 1 << 30;

/// `FILL_MAX` (quicklist.c): the largest entry count `quicklistSetFill` keeps.
const FILL_MAX: i64 = (1 << 15) - 1;

/// `MIN_COMPRESS_BYTES` (quicklist.c): a listpack smaller than this is never compressed.
const MIN_COMPRESS_BYTES: u64 = 48;

/// `MIN_COMPRESS_IMPROVE` (quicklist.c): a compressed node is kept only when LZF saves more
/// than this many bytes.
const MIN_COMPRESS_IMPROVE: u64 = 8;

/// `sizeof(quicklistLZF)` on 64-bit builds: the `size_t` length before the compressed bytes.
const LZF_HEADER: u64 = 8;

/// `COMPRESS_MAX` (quicklist.h, 64-bit builds): the largest depth `quicklistSetCompressDepth`
/// keeps.
const COMPRESS_MAX: u64 = (1 << 16) - 1;

/// The seed of the hash that stands for an element's bytes (any fixed value: only equality
/// of hashes matters).
const ELEMENT_HASH_SEED: u64 = 0x6c69_7374_5f65_6c65;

/// An element's `meta` for an integer entry (its length and entry size below).
const META_INT: u32 = 1 << 31;
/// An integer entry that pops as one of the shared integer objects.
const META_SHARED: u32 = 1 << 30;

thread_local! {
    /// The RESP bytes of the reply of the pop that just ran on this thread (the elements it
    /// took), from [`ListValue::write`] to [`Server::list_command`], which the keyspace's
    /// generic write gives no other way back.
    static POP_REPLY: Cell<Option<u64>> = const { Cell::new(None) };
}

/// One element: a hash of its bytes, and in `meta` its length (a string entry's size follows
/// from it) or, for an integer entry, [`META_INT`], [`META_SHARED`] when it pops as a shared
/// integer, the entry's size in bits 8-15 and the length in bits 0-7. 12 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Elem {
    hash: [u32; 2],
    meta: u32,
}

impl Elem {
    fn new(hasher: &NameHasher, bytes: &[u8], shared_integers: i64) -> Self {
        let h = hasher.hash(bytes);
        let hash = [h as u32, (h >> 32) as u32];
        let meta = match as_integer(bytes) {
            Some(v) => {
                let shared = if (0..shared_integers).contains(&v) {
                    META_SHARED
                } else {
                    0
                };
                META_INT | shared | (listpack_entry(bytes) as u32) << 8 | bytes.len() as u32
            }
            None => bytes.len() as u32,
        };
        Elem { hash, meta }
    }

    /// The element's length as the client sent it.
    fn len(self) -> u64 {
        if self.meta & META_INT != 0 {
            (self.meta & 0xff) as u64
        } else {
            self.meta as u64
        }
    }

    /// Bytes of its listpack entry.
    fn entry(self) -> u64 {
        if self.meta & META_INT != 0 {
            ((self.meta >> 8) & 0xff) as u64
        } else {
            listpack_string_entry(self.meta as u64)
        }
    }

    fn is_int(self) -> bool {
        self.meta & META_INT != 0
    }
}

/// What a node of a list under `list-compress-depth` > 0 keeps besides its elements: its
/// listpack's bytes (LZF's output depends on them), whether `node->entry` is the LZF block
/// (`QUICKLIST_NODE_ENCODING_LZF`), `node->recompress`, and the size LZF gives the bytes as
/// they are (0: it gives up), once computed.
#[derive(Debug, Clone, Default)]
struct Packed {
    image: Vec<u8>,
    lzf: bool,
    recompress: bool,
    compressed: Option<u64>,
}

impl Packed {
    /// `lpNew(0)`: the header and the end byte, no entry.
    fn empty() -> Box<Packed> {
        let mut p = Packed {
            image: vec![0, 0, 0, 0, 0, 0, 0xff],
            ..Packed::default()
        };
        p.set_header(0);
        Box::new(p)
    }

    /// `lpNew` then the first entry, `bytes` of it.
    fn new(bytes: &[u8]) -> Box<Packed> {
        let mut image = vec![0; 6];
        encode_listpack_entry(bytes, &mut image);
        image.push(0xff);
        let mut p = Packed {
            image,
            ..Packed::default()
        };
        p.set_header(1);
        Box::new(p)
    }

    /// The listpack's header: its total bytes and its entry count (`lpSetTotalBytes`,
    /// `lpSetNumElements`, 65,535 standing for "unknown").
    fn set_header(&mut self, count: u64) {
        let total = self.image.len() as u32;
        self.image[..4].copy_from_slice(&total.to_le_bytes());
        let count = count.min(u64::from(u16::MAX)) as u16;
        self.image[4..6].copy_from_slice(&count.to_le_bytes());
        self.compressed = None;
    }
}

/// A quicklist node: its `quicklistNode` block, its listpack's block (or, compressed, its LZF
/// block: `node->entry` either way) and the listpack's byte count (`lpBytes`, `node->sz`),
/// its elements in listpack order, and under `list-compress-depth` > 0 its listpack's bytes
/// and compression state (`None` otherwise: the model keeps no bytes it does not need).
///
/// A Redis 7.2+ list encoded as a bare listpack is one such record with no `quicklistNode`
/// block (`node` `None`): the listpack becomes a node's `entry` as it is when the list is
/// converted, and a lone node's `entry` becomes the list's listpack when converted back.
#[derive(Debug, Clone)]
struct Node {
    node: Option<Alloc>,
    lp: Alloc,
    bytes: u64,
    elems: VecDeque<Elem>,
    packed: Option<Box<Packed>>,
}

impl Node {
    fn count(&self) -> u64 {
        self.elems.len() as u64
    }

    /// `_quicklistNodeAllowInsert`: whether an element of `sz` bytes goes into this node
    /// under fill factor `fill`: the listpack's bytes, the element's and 8 more within the
    /// size limit of a negative fill; else, within 8 KiB, fewer entries than a positive fill.
    fn allows_insert(&self, fill: i64, sz: u64) -> bool {
        let new_sz = self.bytes + sz + SIZE_ESTIMATE_OVERHEAD;
        if fill < 0 {
            if let Some(&limit) = OPTIMIZATION_LEVEL.get((-fill - 1) as usize) {
                if new_sz <= limit {
                    return true;
                }
            }
        }
        new_sz <= SIZE_SAFETY_LIMIT && (self.count() as i64) < fill
    }

    /// Bytes of the listpack entries of elements `range`.
    fn entries(&self, range: std::ops::Range<usize>) -> u64 {
        self.elems.range(range).map(|e| e.entry()).sum()
    }

    /// Bytes the client sent for elements `range`.
    fn payload(&self, range: std::ops::Range<usize>) -> u64 {
        self.elems.range(range).map(|e| e.len()).sum()
    }

    /// Whether `node->entry` is an LZF block.
    fn is_lzf(&self) -> bool {
        self.packed.as_ref().is_some_and(|p| p.lzf)
    }

    /// `lpInsert` of element `e` (its value `bytes`) at the head or the tail: the listpack
    /// reallocated to its new size only past its block's usable size.
    fn push(&mut self, mem: &mut Mem<'_>, head: bool, e: Elem, bytes: &[u8]) {
        self.bytes += e.entry();
        if self.bytes > self.lp.usable {
            self.lp = mem.heap.zrealloc(self.lp, self.bytes);
        }
        if head {
            self.elems.push_front(e);
        } else {
            self.elems.push_back(e);
        }
        self.image_push(head, bytes);
    }

    /// An element pushed: its entry's `bytes` go into the listpack's bytes, if kept, at the
    /// head (after the 6-byte header) or the tail (before the end byte). The element itself is
    /// added by the caller, before.
    fn image_push(&mut self, head: bool, bytes: &[u8]) {
        let count = self.count();
        if let Some(p) = self.packed.as_deref_mut() {
            debug_assert!(!p.lzf, "pushes go to the end nodes, never compressed");
            let mut entry = Vec::new();
            encode_listpack_entry(bytes, &mut entry);
            let at = if head { 6 } else { p.image.len() - 1 };
            p.image.splice(at..at, entry);
            p.set_header(count);
        }
    }

    /// Elements `range` deleted from the listpack's bytes, if kept: called before they leave
    /// `elems`; `left` is the count after.
    fn image_delete(&mut self, range: std::ops::Range<usize>, left: u64) {
        if self.packed.is_none() {
            return;
        }
        let from = 6 + self.entries(0..range.start) as usize;
        let to = from + self.entries(range) as usize;
        let p = self.packed.as_deref_mut().expect("kept bytes");
        debug_assert!(!p.lzf, "entries are deleted from decompressed nodes only");
        p.image.drain(from..to);
        p.set_header(left);
    }
}

/// A list value: its robj, its `quicklist` struct (`None` for a Redis 7.2+ list encoded as a
/// bare listpack, `OBJ_ENCODING_LISTPACK`, whose one record in `nodes` is then that
/// listpack), its nodes head to tail, its element count (`ql->count`) and its compression
/// depth (`ql->compress`, from `list-compress-depth` when the list was made).
#[derive(Debug, Clone)]
pub(super) struct ListValue {
    pub(super) robj: Alloc,
    ql: Option<Alloc>,
    nodes: VecDeque<Node>,
    count: u64,
    depth: u64,
}

/// A position in the list: a node, and an offset in it counted from its head (>= 0) or from
/// its tail (< 0: -1 is its last entry), as `quicklistGetIteratorAtIdx` gives.
struct At {
    node: usize,
    offset: i64,
}

impl ListValue {
    /// `list-max-listpack-size` as `quicklistSetFill` keeps it (-5 to 32,767).
    fn fill(profile: &RedisProfile) -> i64 {
        profile.types.list_max_listpack_size.clamp(-5, FILL_MAX)
    }

    /// Whether the list is a bare listpack (`OBJ_ENCODING_LISTPACK`, Redis 7.2+).
    fn is_listpack(&self) -> bool {
        self.ql.is_none()
    }

    /// The list's listpack record (a bare listpack's, or a lone node's).
    fn lp_mut(&mut self) -> &mut Node {
        self.nodes.front_mut().expect("the listpack")
    }

    /// `listTypeTryConvertListpack` (redis 7.2.6 `src/t_list.c`), before elements of `args`
    /// are added to a bare listpack: when the listpack's bytes plus the elements' lengths, or
    /// its entries plus their number, pass one node's limit (`quicklistNodeExceedsLimit` of
    /// the unclamped `list-max-listpack-size`), the list becomes a quicklist: `quicklistCreate`,
    /// then `quicklistAppendListpack` (a node whose entry is the listpack as it is), or, for
    /// a listpack with no entry, `lpFree`. The robj stays.
    fn convert_if_growing(&mut self, mem: &mut Mem<'_>, args: &[&[u8]]) {
        if !self.is_listpack() {
            return;
        }
        let add_bytes: u64 = args.iter().map(|a| a.len() as u64).sum();
        let n = &self.nodes[0];
        let fill = mem.profile.types.list_max_listpack_size;
        if !node_exceeds_limit(fill, n.bytes + add_bytes, n.count() + args.len() as u64) {
            return;
        }
        let ql = mem.heap.zmalloc(mem.profile.types.quicklist);
        if self.count > 0 {
            let node = mem.heap.zmalloc(mem.profile.types.quicklist_node);
            self.lp_mut().node = Some(node);
        } else {
            let n = self.nodes.pop_front().expect("the listpack");
            mem.heap.zfree(n.lp);
        }
        self.ql = Some(ql);
    }

    /// `listTypeTryConvertQuicklist(o, shrinking=1)` (redis 7.2.6 `src/t_list.c`), after
    /// elements were removed from a quicklist that is left non-empty (pops, LTRIM, LREM):
    /// a list of one node whose listpack is within half of a node's limits (bytes and
    /// entries: `quicklistNodeLimit`, both halved) becomes a bare listpack, that node's entry
    /// as it is; `quicklistRelease` frees the node, then the quicklist. Nothing before 7.2.
    fn convert_if_shrunk(&mut self, mem: &mut Mem<'_>) {
        let Some(ql) = self.ql else {
            return;
        };
        if !mem.profile.layout.list_listpack || self.nodes.len() != 1 {
            return;
        }
        let (sz_limit, count_limit) = node_limit(mem.profile.types.list_max_listpack_size);
        if self.nodes[0].bytes > sz_limit / 2 || self.count > count_limit / 2 {
            return;
        }
        debug_assert!(!self.nodes[0].is_lzf(), "a lone node is never compressed");
        let node = self.lp_mut().node.take().expect("a quicklist node");
        mem.heap.zfree(node);
        mem.heap.zfree(ql);
        self.ql = None;
    }

    /// `listTypePush` on a bare listpack (`lpPrepend`/`lpAppend`, or their integer forms for
    /// an integer-encoded value: the same entry): `lpInsert` reallocates the listpack to its
    /// new size only past its block's usable size.
    fn lp_push(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, head: bool, bytes: &[u8]) {
        let e = Elem::new(hasher, bytes, mem.profile.shared_integers);
        self.lp_mut().push(mem, head, e, bytes);
        self.count += 1;
    }

    /// `lpDelete` of element `e` of a bare listpack: the listpack reallocated to its new byte
    /// count (`lpInsert` shrinks after the move), even left with no entry. Returns it.
    fn lp_delete_at(&mut self, mem: &mut Mem<'_>, e: usize) -> Elem {
        let n = self.lp_mut();
        let left = n.count() - 1;
        n.image_delete(e..e + 1, left);
        let el = n.elems.remove(e).expect("an element of the listpack");
        n.bytes -= el.entry();
        n.lp = mem.heap.zrealloc(n.lp, n.bytes);
        self.count -= 1;
        el
    }

    /// `lpDeleteRange(lp, start, num)` on a bare listpack: nothing for `num` 0 or a `start`
    /// out of the list (`lpSeek` finds no entry); else the entries from `start` (negative:
    /// from the tail) to at most the end deleted, then `lpShrinkToFit` (reallocated to its
    /// bytes when they are fewer than its block's usable size). Returns the bytes the client
    /// sent for them.
    fn lp_delete_range(&mut self, mem: &mut Mem<'_>, start: i64, num: u64) -> u64 {
        let count = self.count;
        let first = if start < 0 { start + count as i64 } else { start };
        if num == 0 || first < 0 || first as u64 >= count {
            return 0;
        }
        let first = first as u64;
        let end = (first + num).min(count);
        let range = first as usize..end as usize;
        let n = self.lp_mut();
        let payload = n.payload(range.clone());
        n.image_delete(range.clone(), count - (end - first));
        n.bytes -= n.entries(range.clone());
        n.elems.drain(range);
        if n.bytes < n.lp.usable {
            n.lp = mem.heap.zrealloc(n.lp, n.bytes);
        }
        self.count -= end - first;
        payload
    }

    /// `listTypePop` on a bare listpack: the entry, string or integer, copied into a string
    /// object (`createStringObject` of `lpGet`'s bytes: an integer too), the entry deleted
    /// (`lpDelete`), the object freed once replied. Returns the element.
    fn lp_pop_one(&mut self, mem: &mut Mem<'_>, head: bool) -> Elem {
        let e = if head { 0 } else { self.nodes[0].elems.len() - 1 };
        let el = self.nodes[0].elems[e];
        let obj = StringValue::create(mem, el.len());
        self.lp_delete_at(mem, e);
        obj.free(mem);
        el
    }

    /// `lremCommand` on a bare listpack: the list iterator (`listTypeInitIterator`), each
    /// matching entry deleted with `lpDelete` from the head (`toremove` >= 0) or the tail, at
    /// most `|toremove|` of them (all when 0), the iterator freed. Returns the count and the
    /// bytes the client sent for them.
    fn lp_remove(&mut self, mem: &mut Mem<'_>, toremove: i64, target: Elem) -> (u64, u64) {
        let li = mem.heap.zmalloc(Self::list_iterator_size(mem.profile));
        let limit = toremove.unsigned_abs();
        let matches = |e: &Elem| e.hash == target.hash && e.len() == target.len();
        let (mut removed, mut payload) = (0u64, 0u64);
        if toremove >= 0 {
            let mut e = 0;
            while e < self.nodes[0].elems.len() && (limit == 0 || removed < limit) {
                if matches(&self.nodes[0].elems[e]) {
                    payload += self.lp_delete_at(mem, e).len();
                    removed += 1;
                } else {
                    e += 1;
                }
            }
        } else {
            let mut e = self.nodes[0].elems.len();
            while e > 0 && (limit == 0 || removed < limit) {
                e -= 1;
                if matches(&self.nodes[0].elems[e]) {
                    payload += self.lp_delete_at(mem, e).len();
                    removed += 1;
                }
            }
        }
        mem.heap.zfree(li);
        (removed, payload)
    }

    /// `quicklistPushHead` (`head`) or `quicklistPushTail` of `bytes`: into the end node when
    /// it allows the insert (`lpInsert` reallocates the listpack only past its block's usable
    /// size), else into a new node: the node's block, `lpNew(0)` (7 bytes), then the
    /// listpack reallocated for the entry.
    fn push(&mut self, mem: &mut Mem<'_>, hasher: &NameHasher, head: bool, bytes: &[u8]) {
        let e = Elem::new(hasher, bytes, mem.profile.shared_integers);
        let entry = e.entry();
        let fill = Self::fill(mem.profile);
        let end = if head {
            self.nodes.front_mut()
        } else {
            self.nodes.back_mut()
        };
        match end {
            Some(n) if n.allows_insert(fill, bytes.len() as u64) => n.push(mem, head, e, bytes),
            end => {
                // The end node takes no more pushes on this side: its bookkeeping is trimmed.
                if let Some(n) = end {
                    n.elems.shrink_to_fit();
                    if let Some(p) = n.packed.as_deref_mut() {
                        p.image.shrink_to_fit();
                    }
                }
                let node = mem.heap.zmalloc(mem.profile.types.quicklist_node);
                let lp = mem.heap.zmalloc(LISTPACK_OVERHEAD);
                let size = LISTPACK_OVERHEAD + entry;
                let lp = if size > lp.usable {
                    mem.heap.zrealloc(lp, size)
                } else {
                    lp
                };
                let n = Node {
                    node: Some(node),
                    lp,
                    bytes: size,
                    elems: VecDeque::from([e]),
                    packed: (self.depth > 0).then(|| Packed::new(bytes)),
                };
                // `__quicklistInsertNode`: the old end node, then the new one, brought in line
                // with the depth.
                if head {
                    self.nodes.push_front(n);
                    if self.nodes.len() > 1 {
                        self.compress(mem, 1);
                    }
                    self.compress(mem, 0);
                } else {
                    self.nodes.push_back(n);
                    let last = self.nodes.len() - 1;
                    if last > 0 {
                        self.compress(mem, last - 1);
                    }
                    self.compress(mem, last);
                }
            }
        }
        self.count += 1;
    }

    /// `quicklistCompressNode` of node `i` (`__quicklistCompressNode` when it is not
    /// compressed): its recompress flag cleared; a listpack of at least 48 bytes compressed
    /// into a block asked for at 8 bytes more than the listpack, which is freed when LZF gives
    /// up or saves 8 bytes or less, else reallocated to 8 plus LZF's size, the listpack freed.
    fn compress_node(&mut self, mem: &mut Mem<'_>, i: usize) {
        debug_assert!(
            i > 0 && i + 1 < self.nodes.len(),
            "only interior nodes are compressed"
        );
        let n = &mut self.nodes[i];
        let Some(p) = n.packed.as_deref_mut() else {
            return;
        };
        if p.lzf {
            return;
        }
        p.recompress = false;
        if n.bytes < MIN_COMPRESS_BYTES {
            return;
        }
        let block = mem.heap.zmalloc(LZF_HEADER + n.bytes);
        let size = *p
            .compressed
            .get_or_insert_with(|| lzf::compressed_len(&p.image, n.bytes as usize) as u64);
        if size == 0 || size + MIN_COMPRESS_IMPROVE >= n.bytes {
            mem.heap.zfree(block);
            return;
        }
        let block = mem.heap.zrealloc(block, LZF_HEADER + size);
        mem.heap.zfree(n.lp);
        n.lp = block;
        p.lzf = true;
    }

    /// `quicklistDecompressNode` of node `i` (`quicklistDecompressNodeForUse` when `for_use`:
    /// then flagged for recompression), when it is compressed: a block of the listpack's size,
    /// the LZF block freed.
    fn decompress_node(&mut self, mem: &mut Mem<'_>, i: usize, for_use: bool) {
        let n = &mut self.nodes[i];
        let Some(p) = n.packed.as_deref_mut() else {
            return;
        };
        if !p.lzf {
            return;
        }
        let raw = mem.heap.zmalloc(n.bytes);
        mem.heap.zfree(n.lp);
        n.lp = raw;
        p.lzf = false;
        p.recompress = for_use;
    }

    /// Whether node `i` was decompressed for use (`node->recompress`).
    fn recompress_flag(&self, i: usize) -> bool {
        self.nodes[i].packed.as_ref().is_some_and(|p| p.recompress)
    }

    /// `quicklistCompress(ql, node i)`: the node alone recompressed when it was decompressed
    /// for use, else the whole list brought in line with the depth around it.
    fn compress(&mut self, mem: &mut Mem<'_>, i: usize) {
        if self.depth == 0 {
            return;
        }
        if self.recompress_flag(i) {
            self.compress_node(mem, i);
        } else {
            self.compress_walk(mem, Some(i));
        }
    }

    /// `quicklistRecompressOnly` of node `i`.
    fn recompress_only(&mut self, mem: &mut Mem<'_>, i: usize) {
        if self.recompress_flag(i) {
            self.compress_node(mem, i);
        }
    }

    /// `__quicklistCompress(ql, node)`: nothing on a list shorter than twice the depth; else
    /// the nodes within the depth decompressed pairwise from both ends inwards (stopping once
    /// the two walks meet), then `node` compressed unless it was among them, then the two nodes
    /// just past the depth, the one from the head first.
    fn compress_walk(&mut self, mem: &mut Mem<'_>, node: Option<usize>) {
        let len = self.nodes.len();
        if len == 0 || self.depth == 0 || (len as u64) < self.depth * 2 {
            return;
        }
        let (mut f, mut r) = (0, len - 1);
        let mut in_depth = false;
        for _ in 0..self.depth {
            self.decompress_node(mem, f, false);
            self.decompress_node(mem, r, false);
            if node == Some(f) || node == Some(r) {
                in_depth = true;
            }
            if f == r || f + 1 == r {
                return;
            }
            f += 1;
            r -= 1;
        }
        if !in_depth {
            if let Some(n) = node {
                self.compress_node(mem, n);
            }
        }
        self.compress_node(mem, f);
        self.compress_node(mem, r);
    }

    /// `__quicklistDelNode` of node `i`, its count already taken off the list's: unlinked, the
    /// list brought in line with the depth, then its listpack (or LZF block) freed, then the
    /// node.
    fn unlink_node(&mut self, mem: &mut Mem<'_>, i: usize) {
        let n = self.nodes.remove(i).expect("a node of the list");
        self.compress_walk(mem, None);
        mem.heap.zfree(n.lp);
        if let Some(node) = n.node {
            mem.heap.zfree(node);
        }
    }

    /// `__quicklistDelNode` of node `i` with its elements (see [`ListValue::unlink_node`]).
    fn free_node(&mut self, mem: &mut Mem<'_>, i: usize) {
        self.count -= self.nodes[i].count();
        self.unlink_node(mem, i);
    }

    /// `quicklistDelIndex` of element `e` of node `i`: `lpDelete` reallocates the listpack
    /// to its new byte count, and a node left empty is freed. Returns the element and whether
    /// its node went.
    fn delete_at(&mut self, mem: &mut Mem<'_>, i: usize, e: usize) -> (Elem, bool) {
        let n = &mut self.nodes[i];
        let left = n.count() - 1;
        n.image_delete(e..e + 1, left);
        let el = n.elems.remove(e).expect("an element of the node");
        n.bytes -= el.entry();
        n.lp = mem.heap.zrealloc(n.lp, n.bytes);
        self.count -= 1;
        let gone = n.elems.is_empty();
        if gone {
            // The count was taken off above.
            self.unlink_node(mem, i);
        }
        (el, gone)
    }

    /// `quicklistGetIteratorAtIdx`'s position of index `idx` (negative: from the tail), if
    /// the list has it: the node holding it, sought from the nearer end, and the offset in
    /// it, from the node's head for a non-negative `idx`, from its tail otherwise.
    fn locate(&self, idx: i64) -> Option<At> {
        let index = if idx >= 0 {
            idx as u64
        } else {
            idx.unsigned_abs() - 1
        };
        if index >= self.count {
            return None;
        }
        let pos = if idx >= 0 { index } else { self.count - 1 - index };
        // The node holding `pos`, and the elements before it.
        let (node, before) = if pos <= (self.count - 1) / 2 {
            let mut before = 0;
            let mut i = 0;
            while before + self.nodes[i].count() <= pos {
                before += self.nodes[i].count();
                i += 1;
            }
            (i, before)
        } else {
            let back = self.count - 1 - pos;
            let mut after = 0;
            let mut i = self.nodes.len() - 1;
            while after + self.nodes[i].count() <= back {
                after += self.nodes[i].count();
                i -= 1;
            }
            (i, self.count - after - self.nodes[i].count())
        };
        let in_node = (pos - before) as i64;
        let offset = if idx >= 0 {
            in_node
        } else {
            in_node - self.nodes[node].count() as i64
        };
        Some(At { node, offset })
    }

    /// `quicklistDelRange(ql, start, count)`: an iterator at `start` (allocated, then released:
    /// `quicklistCompress` of its node, the iterator freed), then node after node towards the
    /// tail: a node wholly in the range freed, the range cut out of the others with
    /// `lpDeleteRange` (decompressed for use first, the listpack shrunk to fit, then
    /// recompressed if it was compressed), a node so emptied freed. Returns the bytes the
    /// client sent for the elements deleted.
    fn del_range(&mut self, mem: &mut Mem<'_>, start: i64, count: i64) -> u64 {
        if count <= 0 {
            return 0;
        }
        let mut extent = count as u64;
        if start >= 0 && extent > self.count.saturating_sub(start as u64) {
            extent = self.count.saturating_sub(start as u64);
        } else if start < 0 && extent > start.unsigned_abs() {
            extent = start.unsigned_abs();
        }
        let Some(At {
            node: mut i,
            mut offset,
        }) = self.locate(start)
        else {
            return 0;
        };
        let it = mem.heap.zmalloc(QUICKLIST_ITER);
        self.compress(mem, i);
        mem.heap.zfree(it);
        let mut payload = 0;
        while extent > 0 {
            let cnt = self.nodes[i].count();
            let (del, entire) = if offset == 0 && extent >= cnt {
                (cnt, true)
            } else if offset >= 0 && extent + offset as u64 >= cnt {
                (cnt - offset as u64, false)
            } else if offset < 0 {
                (offset.unsigned_abs().min(extent), false)
            } else {
                (extent, false)
            };
            if entire {
                payload += self.nodes[i].payload(0..cnt as usize);
                self.free_node(mem, i);
            } else {
                let first = if offset >= 0 {
                    offset as u64
                } else {
                    cnt - offset.unsigned_abs()
                };
                let range = first as usize..(first + del) as usize;
                self.decompress_node(mem, i, true);
                let n = &mut self.nodes[i];
                payload += n.payload(range.clone());
                n.image_delete(range.clone(), n.count() - del);
                n.bytes -= n.entries(range.clone());
                n.elems.drain(range);
                // lpShrinkToFit.
                if n.bytes < n.lp.usable {
                    n.lp = mem.heap.zrealloc(n.lp, n.bytes);
                }
                self.count -= del;
                if self.nodes[i].elems.is_empty() {
                    self.unlink_node(mem, i);
                } else {
                    self.recompress_only(mem, i);
                    i += 1;
                }
            }
            extent -= del;
            offset = 0;
        }
        payload
    }

    /// `sizeof(listTypeIterator)` for this version (see [`LIST_TYPE_ITERATOR_72`]).
    fn list_iterator_size(profile: &RedisProfile) -> u64 {
        if profile.layout.list_listpack {
            LIST_TYPE_ITERATOR_72
        } else {
            LIST_TYPE_ITERATOR
        }
    }

    /// `listTypeInitIterator`: the list iterator, then the quicklist iterator in it; with
    /// `list_iter` false only the quicklist iterator (`quicklistGetIteratorAtIdx`, as Redis
    /// 7.2+'s `addListQuicklistRangeReply` makes it).
    fn open_iterator(mem: &mut Mem<'_>, list_iter: bool) -> (Option<Alloc>, Alloc) {
        let li = list_iter.then(|| mem.heap.zmalloc(Self::list_iterator_size(mem.profile)));
        let qi = mem.heap.zmalloc(QUICKLIST_ITER);
        (li, qi)
    }

    /// `listTypeReleaseIterator`: `quicklistCompress` of the node the iterator is on, if any,
    /// the quicklist iterator freed, then the list iterator.
    fn close_iterator(&mut self, mem: &mut Mem<'_>, (li, qi): (Option<Alloc>, Alloc), at: Option<usize>) {
        if let Some(i) = at {
            self.compress(mem, i);
        }
        mem.heap.zfree(qi);
        if let Some(li) = li {
            mem.heap.zfree(li);
        }
    }

    /// LPOP/RPOP without a count (`listTypePop`): a string entry copied into a string object
    /// first (`createStringObject`), the entry deleted, an integer entry then made an integer
    /// object (a shared one below `shared_integers`, else an INT robj), and the object freed
    /// once replied. Returns the element.
    fn pop_one(&mut self, mem: &mut Mem<'_>, head: bool) -> Elem {
        let i = if head { 0 } else { self.nodes.len() - 1 };
        let e = if head { 0 } else { self.nodes[i].elems.len() - 1 };
        let el = self.nodes[i].elems[e];
        let obj = (!el.is_int()).then(|| StringValue::create(mem, el.len()));
        self.delete_at(mem, i, e);
        let obj = obj.unwrap_or_else(|| {
            if el.meta & META_SHARED != 0 {
                StringValue::Shared
            } else {
                StringValue::Int(mem.heap.zmalloc(mem.profile.robj))
            }
        });
        obj.free(mem);
        el
    }

    /// LPOP/RPOP with a count (`popGenericCommand`): the reply walks the `count` elements at
    /// that end with a list iterator (`addListRangeReply`: `quicklistNext` decompresses each
    /// node it enters for use and recompresses it as it leaves, the last one as the iterator
    /// is released), then `quicklistDelRange` deletes them. Returns the bytes the client sent
    /// for them and the reply's RESP bytes.
    fn pop_range(&mut self, mem: &mut Mem<'_>, head: bool, count: u64) -> (u64, u64) {
        let n = count.min(self.count);
        // 7.0 walks with a list iterator (`listTypeInitIterator`), 7.2+ with a quicklist
        // iterator alone.
        let it = Self::open_iterator(mem, !mem.profile.layout.list_listpack);
        let mut i = if head { 0 } else { self.nodes.len() - 1 };
        let mut left = n;
        loop {
            self.decompress_node(mem, i, true);
            let c = self.nodes[i].count();
            if left <= c {
                break;
            }
            left -= c;
            self.compress(mem, i);
            i = if head { i + 1 } else { i - 1 };
        }
        let reply = if head {
            let elems = self.nodes.iter().flat_map(|nd| nd.elems.iter());
            array_reply_len(elems.take(n as usize).map(|e| e.len()))
        } else {
            let elems = self.nodes.iter().rev().flat_map(|nd| nd.elems.iter().rev());
            array_reply_len(elems.take(n as usize).map(|e| e.len()))
        };
        self.close_iterator(mem, it, Some(i));
        let r = n as i64;
        let payload = if head {
            self.del_range(mem, 0, r)
        } else {
            self.del_range(mem, -r, r)
        };
        (payload, reply)
    }

    /// `ltrimCommand`: the range kept, as Redis reads `start` and `stop`, then the elements
    /// before it deleted from the head and those after it from the tail. Returns the bytes
    /// the client sent for the elements deleted.
    fn trim(&mut self, mem: &mut Mem<'_>, start: i64, end: i64) -> u64 {
        let (ltrim, rtrim) = trim_extents(self.count as i64, start, end);
        if self.is_listpack() {
            return self.lp_delete_range(mem, 0, ltrim as u64)
                + self.lp_delete_range(mem, -rtrim, rtrim as u64);
        }
        self.del_range(mem, 0, ltrim) + self.del_range(mem, -rtrim, rtrim)
    }

    /// `lremCommand`: an iterator from the head (`toremove` >= 0) or the tail; each element
    /// equal to `target` deleted (`quicklistDelEntry`), at most `|toremove|` of them (all
    /// when 0). The iterator decompresses each node it enters for use and `quicklistCompress`es
    /// it as it leaves; where it stops, on the node it was on (or, when that node went with
    /// the last deletion, on the next one in its direction, not entered), the release does.
    /// Returns the bytes the client sent for the elements deleted.
    fn remove(&mut self, mem: &mut Mem<'_>, toremove: i64, target: Elem) -> (u64, u64) {
        let it = Self::open_iterator(mem, true);
        let limit = toremove.unsigned_abs();
        let mut removed = 0u64;
        let mut payload = 0;
        let matches = |e: &Elem| e.hash == target.hash && e.len() == target.len();
        // Where the iterator is when it is released.
        let mut at = None;
        if toremove >= 0 {
            let mut i = 0;
            'nodes: while i < self.nodes.len() {
                self.decompress_node(mem, i, true);
                let mut e = 0;
                while e < self.nodes[i].elems.len() {
                    if !matches(&self.nodes[i].elems[e]) {
                        e += 1;
                        continue;
                    }
                    let (el, gone) = self.delete_at(mem, i, e);
                    payload += el.len();
                    removed += 1;
                    if removed == limit {
                        at = (!gone || i < self.nodes.len()).then_some(i);
                        break 'nodes;
                    }
                    if gone {
                        // The next node has taken this one's place.
                        continue 'nodes;
                    }
                }
                self.compress(mem, i);
                i += 1;
            }
        } else {
            let mut i = self.nodes.len();
            'back: while i > 0 {
                i -= 1;
                self.decompress_node(mem, i, true);
                let mut e = self.nodes[i].elems.len();
                while e > 0 {
                    e -= 1;
                    if !matches(&self.nodes[i].elems[e]) {
                        continue;
                    }
                    let (el, gone) = self.delete_at(mem, i, e);
                    payload += el.len();
                    removed += 1;
                    if removed == limit {
                        at = if gone { i.checked_sub(1) } else { Some(i) };
                        break 'back;
                    }
                    if gone {
                        continue 'back;
                    }
                }
                self.compress(mem, i);
            }
        }
        self.close_iterator(mem, it, at);
        (removed, payload)
    }
}

impl ValueType for ListValue {
    /// `freeListObject` (`quicklistRelease`: each node's listpack, then the node, head to
    /// tail; then the quicklist; a bare listpack: `lpFree`), then the robj.
    fn free(self, mem: &mut Mem<'_>) {
        for n in self.nodes {
            mem.heap.zfree(n.lp);
            if let Some(node) = n.node {
                mem.heap.zfree(node);
            }
        }
        if let Some(ql) = self.ql {
            mem.heap.zfree(ql);
        }
        mem.heap.zfree(self.robj);
    }

    /// The listpacks' blocks (a compressed node's LZF block).
    fn footprint(&self, arena: &Arena) -> u64 {
        self.nodes.iter().map(|n| arena.footprint(n.lp.id)).sum()
    }

    /// `sizeof(robj)` and `sizeof(quicklist)`, then per node `sizeof(quicklistNode)` and the
    /// usable size of `node->entry` (its listpack, or its LZF block), averaged over the nodes and multiplied by their number.
    /// A bare listpack (Redis 7.2+): `sizeof(robj)` and the listpack's usable size.
    fn object_size(&self, arena: &Arena, profile: &RedisProfile) -> u64 {
        if self.is_listpack() {
            let lp = self.nodes.front().map_or(0, |n| arena.usable_size(n.lp.id));
            return profile.robj + lp;
        }
        let asize = profile.robj + profile.types.quicklist;
        let elesize: u64 = self
            .nodes
            .iter()
            .map(|n| profile.types.quicklist_node + arena.usable_size(n.lp.id))
            .sum();
        let len = self.nodes.len() as u64;
        add_sampled(asize, elesize, len, len)
    }

    fn encoding(&self) -> &'static str {
        if self.is_listpack() {
            "listpack"
        } else {
            "quicklist"
        }
    }

    fn structure(&self, _profile: &RedisProfile) -> (u64, u64) {
        let ql = self.ql.map_or(0, |q| q.requested);
        let mut req = (self.robj.requested + ql) as u64;
        let mut grown = 0;
        for n in &self.nodes {
            let (r, g) = if n.is_lzf() {
                (n.lp.requested as u64, 0)
            } else {
                listpack_structure(n.lp, n.bytes)
            };
            req += n.node.map_or(0, |a| a.requested) as u64 + r;
            grown += g;
        }
        (req, grown)
    }

    /// The robj, the quicklist, then per node its `quicklistNode` and its listpack (or LZF
    /// block).
    fn blocks(&self, _arena: &Arena, _profile: &RedisProfile) -> Vec<BlockKind> {
        let mut b = Blocks::default();
        b.alloc("robj", self.robj);
        let Some(ql) = self.ql else {
            for n in &self.nodes {
                b.alloc("listpack (a small list's)", n.lp);
            }
            return b.into_vec();
        };
        b.alloc("quicklist", ql);
        for n in &self.nodes {
            if let Some(node) = n.node {
                b.alloc("quicklist node", node);
            }
        }
        for n in &self.nodes {
            let what = if n.is_lzf() {
                "LZF block (a compressed node's)"
            } else {
                "listpack (a node's)"
            };
            b.alloc(what, n.lp);
        }
        b.into_vec()
    }
}

/// `quicklistNodeLimit(fill)` (redis 7.2.6 `src/quicklist.c`): a node's (listpack's) size
/// limit and entry limit: for a negative fill its level of `optimization_level` (beyond -5,
/// the last) and no entry limit (`UINT_MAX`); for a positive one no size limit (`SIZE_MAX`)
/// and that many entries (1 for 0).
fn node_limit(fill: i64) -> (u64, u64) {
    if fill >= 0 {
        (u64::MAX, if fill == 0 { 1 } else { fill as u64 })
    } else {
        let level = ((-fill - 1) as usize).min(OPTIMIZATION_LEVEL.len() - 1);
        (OPTIMIZATION_LEVEL[level], u64::from(u32::MAX))
    }
}

/// `quicklistNodeExceedsLimit(fill, new_sz, new_count)` (redis 7.2.6 `src/quicklist.c`): past
/// the size limit when there is one; else past 8 KiB (`SIZE_SAFETY_LIMIT`) or the entry
/// limit.
fn node_exceeds_limit(fill: i64, new_sz: u64, new_count: u64) -> bool {
    let (sz_limit, count_limit) = node_limit(fill);
    if sz_limit != u64::MAX {
        new_sz > sz_limit
    } else {
        new_sz > SIZE_SAFETY_LIMIT || new_count > count_limit
    }
}

/// `ltrimCommand`'s extents for `start` and `stop` on a list of `llen`: how many elements go
/// from the head, then how many from the tail.
fn trim_extents(llen: i64, mut start: i64, mut end: i64) -> (i64, i64) {
    if start < 0 {
        start += llen;
    }
    if end < 0 {
        end += llen;
    }
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        (llen, 0)
    } else {
        (start, llen - end.min(llen - 1) - 1)
    }
}

/// A command's integer argument as `getLongFromObject` reads it (`string2ll`).
fn parse_long(arg: &[u8]) -> Option<i64> {
    as_integer(arg)
}

impl Aggregate for ListValue {
    /// `createQuicklistObject`: the quicklist struct, then the robj; Redis 7.2+
    /// `createListListpackObject`: `lpNew(0)` (7 bytes), then the robj.
    fn create(mem: &mut Mem<'_>, _cmd: Cmd, _args: &[&[u8]]) -> Self {
        let depth = mem.profile.types.list_compress_depth.min(COMPRESS_MAX);
        if mem.profile.layout.list_listpack {
            let lp = mem.heap.zmalloc(LISTPACK_OVERHEAD);
            let robj = mem.heap.zmalloc(mem.profile.robj);
            let n = Node {
                node: None,
                lp,
                bytes: LISTPACK_OVERHEAD,
                elems: VecDeque::new(),
                packed: (depth > 0).then(Packed::empty),
            };
            return ListValue {
                robj,
                ql: None,
                nodes: VecDeque::from([n]),
                count: 0,
                depth,
            };
        }
        let ql = mem.heap.zmalloc(mem.profile.types.quicklist);
        let robj = mem.heap.zmalloc(mem.profile.robj);
        ListValue {
            robj,
            ql: Some(ql),
            nodes: VecDeque::new(),
            count: 0,
            depth,
        }
    }

    /// LPUSH/RPUSH: each element pushed in turn; LPOP/RPOP `[count]`, LTRIM `start stop`,
    /// LREM `count element` (arguments checked by [`Server::list_command`]). A pop leaves its
    /// reply's length for the command.
    fn write(&mut self, mem: &mut Mem<'_>, cmd: Cmd, args: &[&[u8]]) -> i64 {
        let hasher = NameHasher::new(ELEMENT_HASH_SEED);
        match cmd {
            Cmd::Lpush | Cmd::Rpush => {
                // `listTypeTryConversionAppend` of all the elements first (7.2+).
                self.convert_if_growing(mem, args);
                let mut payload = 0;
                for a in args {
                    if self.is_listpack() {
                        self.lp_push(mem, &hasher, cmd == Cmd::Lpush, a);
                    } else {
                        self.push(mem, &hasher, cmd == Cmd::Lpush, a);
                    }
                    payload += a.len() as i64;
                }
                payload
            }
            Cmd::Lpop | Cmd::Rpop => {
                let head = cmd == Cmd::Lpop;
                let payload = match args.first().and_then(|c| parse_long(c)) {
                    None => {
                        let el = if self.is_listpack() {
                            self.lp_pop_one(mem, head)
                        } else {
                            self.pop_one(mem, head)
                        };
                        POP_REPLY.set(Some(bulk_reply_len(el.len())));
                        el.len()
                    }
                    // The fast exit: an empty array.
                    Some(0) => {
                        POP_REPLY.set(Some(4));
                        return 0;
                    }
                    Some(n) if self.is_listpack() => {
                        // `addListListpackRangeReply` (no allocation), `lpDeleteRange`.
                        let n = (n as u64).min(self.count);
                        let reply = {
                            let elems = &self.nodes[0].elems;
                            if head {
                                array_reply_len(elems.iter().take(n as usize).map(|e| e.len()))
                            } else {
                                array_reply_len(elems.iter().rev().take(n as usize).map(|e| e.len()))
                            }
                        };
                        POP_REPLY.set(Some(reply));
                        let start = if head { 0 } else { -(n as i64) };
                        self.lp_delete_range(mem, start, n)
                    }
                    Some(n) => {
                        let (payload, reply) = self.pop_range(mem, head, n as u64);
                        POP_REPLY.set(Some(reply));
                        payload
                    }
                };
                // `listElementsRemoved`.
                if self.count > 0 {
                    self.convert_if_shrunk(mem);
                }
                -(payload as i64)
            }
            Cmd::Ltrim => {
                let start = parse_long(args[0]).expect("a checked start");
                let end = parse_long(args[1]).expect("a checked stop");
                let payload = self.trim(mem, start, end);
                if self.count > 0 {
                    self.convert_if_shrunk(mem);
                }
                -(payload as i64)
            }
            Cmd::Lrem => {
                let toremove = parse_long(args[0]).expect("a checked count");
                let target = Elem::new(&hasher, args[1], mem.profile.shared_integers);
                let (removed, payload) = if self.is_listpack() {
                    self.lp_remove(mem, toremove, target)
                } else {
                    self.remove(mem, toremove, target)
                };
                if removed > 0 && self.count > 0 {
                    self.convert_if_shrunk(mem);
                }
                -(payload as i64)
            }
            _ => 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.count == 0
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
    /// `LPUSH`/`RPUSH key element [element ...]`, `LPOP`/`RPOP key [count]`,
    /// `LTRIM key start stop`, `LREM key count element`. Arguments Redis would refuse with an
    /// error are refused as unsupported, as is an element of 1 GiB or more.
    pub(super) fn list_command(&mut self, cmd: Cmd, argv: &[&[u8]]) -> Result<(), Reply> {
        let ok = match cmd {
            Cmd::Lpush | Cmd::Rpush => {
                if argv.iter().skip(2).any(|a| a.len() as u64 >= PACKED_THRESHOLD) {
                    return unsupported("list elements of 1 GiB or more (plain nodes) are not modelled");
                }
                argv.len() >= 3
            }
            Cmd::Lpop | Cmd::Rpop => match argv.len() {
                2 => true,
                3 => parse_long(argv[2]).is_some_and(|n| n >= 0),
                _ => false,
            },
            Cmd::Ltrim => argv.len() == 4 && parse_long(argv[2]).is_some() && parse_long(argv[3]).is_some(),
            Cmd::Lrem => argv.len() == 4 && parse_long(argv[2]).is_some(),
            _ => false,
        };
        if !ok {
            return unsupported("wrong arguments for a list command");
        }
        POP_REPLY.set(None);
        let create = matches!(cmd, Cmd::Lpush | Cmd::Rpush);
        let (keyspace, mut mem) = self.keyspace_mem();
        keyspace.write::<ListValue>(&mut mem, argv[1], cmd, &argv[2..], create);
        if matches!(cmd, Cmd::Lpop | Cmd::Rpop) {
            // A missing key: a null bulk string or a null array, 5 bytes either way.
            self.reply_bytes = Some(POP_REPLY.take().unwrap_or(5));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jemalloc::trace::TraceOp;
    use crate::redis::server::testing::{argv, debian_profile, recorded_allocs};
    use crate::redis::server::ClientId;

    /// A server of the Debian build with `list-max-listpack-size` `fill` and
    /// `list-compress-depth` `depth`, the latency histograms of the commands used here already
    /// made, and a client that has run a PING (its query buffer grown): each command's
    /// `used_memory` delta is then what it leaves in the keyspace.
    fn ready(fill: i64, depth: u64) -> (Server, ClientId) {
        let mut p = debian_profile();
        p.baseline.commands_seen = [
            "ping", "rpush", "lpush", "lpop", "rpop", "ltrim", "lrem", "del", "flushall",
        ]
        .map(String::from)
        .to_vec();
        p.types.list_max_listpack_size = fill;
        p.types.list_compress_depth = depth;
        let mut s = Server::new(p, 1).unwrap();
        let c = s.connect();
        s.exec(c, &argv(&[b"PING"])).unwrap();
        (s, c)
    }

    /// Runs a command (which must be modelled); returns its `used_memory` delta.
    fn delta(s: &mut Server, c: ClientId, words: &[&[u8]]) -> i64 {
        let before = s.used_memory() as i64;
        assert_eq!(s.exec(c, &argv(words)).unwrap(), Reply::Ok);
        s.used_memory() as i64 - before
    }

    /// `verb key` and `n` strings of 100 bytes (`lpEncodeGetType`: a 2-byte header, as they
    /// are 64 bytes or more; a 1-byte back-length: 103 bytes of listpack each).
    fn hundreds(verb: &[u8], key: &[u8], n: usize) -> Vec<Vec<u8>> {
        let mut a = argv(&[verb, key]);
        a.extend((0..n).map(|i| format!("s{i:0>99}").into_bytes()));
        a
    }

    fn exec(s: &mut Server, c: ClientId, a: &[Vec<u8>]) -> i64 {
        let before = s.used_memory() as i64;
        assert_eq!(s.exec(c, a).unwrap(), Reply::Ok);
        s.used_memory() as i64 - before
    }

    /// The recorded trace as text: `+n` an allocation of n bytes, `~m>n` a reallocation of a
    /// block asked for m bytes to n (one the allocator moved or gave another size), `-n` the
    /// free of a block asked for n bytes.
    fn trace(s: &Server) -> Vec<String> {
        let ops = &s.heap.recorder.as_ref().expect("recording").ops;
        let mut sizes = Vec::with_capacity(ops.len());
        ops.iter()
            .map(|o| match *o {
                TraceOp::Alloc { size } => {
                    sizes.push(size);
                    format!("+{size}")
                }
                TraceOp::Realloc { op, size } => {
                    sizes.push(size);
                    format!("~{}>{size}", sizes[op as usize])
                }
                TraceOp::Free { op } => {
                    sizes.push(0);
                    format!("-{}", sizes[op as usize])
                }
                TraceOp::Purge => {
                    sizes.push(0);
                    "purge".into()
                }
            })
            .collect()
    }

    /// Whether `run` occurs in `t`, consecutively.
    fn has_run(t: &[String], run: &[&str]) -> bool {
        t.windows(run.len())
            .any(|w| w.iter().zip(run).all(|(a, b)| a == b))
    }

    /// `RPUSH l a b c` on a new key: the quicklist (40 -> 48), the robj (16), the key's sds
    /// ("l": 1 + 1 + 1 = 3 -> 8), the main dict's first table (4 buckets, 32), the dict entry
    /// (24 -> 32); then the node (40 -> 48), `lpNew` (7 -> 8) reallocated for "a" (7 + 3 =
    /// 10 -> 16), where "b" and "c" fit (13, 16): 200 bytes. MEMORY USAGE: robj 16 +
    /// quicklist 40 + node 40 + listpack 16 + key sds 8 + dictEntry 24 = 144, as the server
    /// says of such a list.
    #[test]
    fn a_new_list_is_a_quicklist_of_one_node() {
        let (mut s, c) = ready(-2, 0);
        s.heap.record();
        assert_eq!(delta(&mut s, c, &[b"RPUSH", b"l", b"a", b"b", b"c"]), 200);
        // After the argv (its array, 5 x 8, and one object per argument).
        let t = trace(&s);
        assert_eq!(t[..6], ["+40", "+25", "+21", "+21", "+21", "+21"]);
        assert_eq!(t[6..14], ["+40", "+16", "+3", "+32", "+24", "+40", "+7", "~7>10"]);
        assert_eq!(recorded_allocs(&s)[6..13], [40, 16, 3, 32, 24, 40, 7]);
        assert_eq!(s.memory_usage(b"l"), Some(144));
        // The listpack's 16-byte block holds the elements.
        assert_eq!(s.value_footprint(), (3, 16));
        assert_eq!(s.payload_bytes(), 1 + 3);
    }

    /// 100-byte strings, 50 to a command: a node takes them while 7 + 103 k + 100 + 8 <=
    /// 8,192, i.e. 79 of them (8,144 bytes, in 8 KiB); nodes of 79, 79, then 42 (4,333 in
    /// 5 KiB).
    ///  - 1st command: the key (48 + 16 + 8 + 32 + 32 = 136), a node (48) of 50 (5,157 in
    ///    6 KiB): 6,328;
    ///  - 2nd: the first node to 79 (8 KiB, +2,048), a node (48) of 21 (2,170 in 2.5 KiB):
    ///    4,656;
    ///  - 3rd: the second node to 71 (7,320 in 8 KiB): +5,632;
    ///  - 4th: 8 more in the second node (8,144: still 8 KiB), a third node of 42: 48 + 5,120.
    ///
    /// MEMORY USAGE: 16 + 40 + 3 x 40 + 8,192 + 8,192 + 5,120 + the key's 8 + 24 = 21,712.
    #[test]
    fn nodes_fill_to_8_kib() {
        let (mut s, c) = ready(-2, 0);
        let deltas: Vec<i64> = (0..4)
            .map(|_| exec(&mut s, c, &hundreds(b"RPUSH", b"big", 50)))
            .collect();
        assert_eq!(deltas, [6_328, 4_656, 5_632, 5_168]);
        assert_eq!(s.memory_usage(b"big"), Some(21_712));
        assert_eq!(s.payload_bytes(), 3 + 200 * 100);
        // A string at the head does not fit the full first node: a node of its own, 7 + 103 =
        // 110 -> 112.
        assert_eq!(exec(&mut s, c, &hundreds(b"LPUSH", b"big", 1)), 48 + 112);
        assert_eq!(s.memory_usage(b"big"), Some(21_712 + 40 + 112));
    }

    /// The insert test to the byte: on a node of 79 100-byte strings (8,144 bytes), a 1-digit
    /// integer (2 bytes of listpack) goes in while 8,144 + 2 k + 1 + 8 <= 8,192: twenty of
    /// them (8,184, still 8 KiB); the 21st opens a node (48 + 16). A 40-byte string on such a
    /// node makes exactly 8,192 and goes in (8,186).
    #[test]
    fn the_size_estimate_decides_to_the_byte() {
        let (mut s, c) = ready(-2, 0);
        exec(&mut s, c, &hundreds(b"RPUSH", b"e", 79));
        let usage = s.memory_usage(b"e").unwrap();
        assert_eq!(usage, 16 + 40 + 40 + 8_192 + 8 + 24);
        for _ in 0..20 {
            assert_eq!(delta(&mut s, c, &[b"RPUSH", b"e", b"5"]), 0);
        }
        assert_eq!(delta(&mut s, c, &[b"RPUSH", b"e", b"5"]), 64);
        exec(&mut s, c, &hundreds(b"RPUSH", b"f", 79));
        assert_eq!(delta(&mut s, c, &[b"RPUSH", b"f", &[b'q'; 40]]), 0);
        assert_eq!(delta(&mut s, c, &[b"RPUSH", b"f", b"q"]), 64);
    }

    /// A positive `list-max-listpack-size` counts entries: 2 to a node. Fill -5 limits a node
    /// to 64 KiB (large blocks): 636 strings of 100 bytes (7 + 636 x 103 = 65,515, in 64 KiB;
    /// 65,515 + 108 would pass 65,536).
    #[test]
    fn the_fill_factor_counts_entries_or_bytes() {
        let (mut s, c) = ready(2, 0);
        // Nodes [a, b], [c]: each 48 + (7 + 3 + 3 = 13 -> 16); [c]: 48 + 16.
        assert_eq!(
            delta(&mut s, c, &[b"RPUSH", b"n", b"a", b"b", b"c"]),
            136 + 64 + 64
        );
        assert_eq!(s.memory_usage(b"n"), Some(16 + 40 + 2 * (40 + 16) + 8 + 24));
        let (mut s, c) = ready(-5, 0);
        for _ in 0..6 {
            exec(&mut s, c, &hundreds(b"RPUSH", b"g", 100));
        }
        exec(&mut s, c, &hundreds(b"RPUSH", b"g", 36));
        assert_eq!(s.memory_usage(b"g"), Some(16 + 40 + 40 + 65_536 + 8 + 24));
        assert_eq!(exec(&mut s, c, &hundreds(b"RPUSH", b"g", 1)), 48 + 112);
    }

    /// Single pops of elements alone in their node (on a full node of 79 100-byte strings):
    /// a string is copied into an object first, then deleted (`lpDelete` reallocates the
    /// listpack to 7 bytes, moving it to the 8-byte class), its emptied node freed (listpack,
    /// then node), then the object freed:
    ///  - 100 bytes: a raw string, its sds (3 + 100 + 1 = 104) then its robj; the listpack
    ///    held 7 + 103 = 110 (in 112): -(48 + 112);
    ///  - 44 bytes: an embedded string (16 + 3 + 44 + 1 = 64); the listpack 7 + 46 = 53 (in
    ///    64): -(48 + 64).
    ///
    /// An integer's entry is deleted first, then its object made: an INT robj (16) for one
    /// above the shared ones, none for one below 10,000. The last pop deletes the key.
    #[test]
    fn single_pops_copy_delete_then_free() {
        let (mut s, c) = ready(-2, 0);
        s.heap.record();
        exec(&mut s, c, &hundreds(b"RPUSH", b"p", 79));
        exec(&mut s, c, &hundreds(b"RPUSH", b"p", 1));
        assert_eq!(delta(&mut s, c, &[b"RPOP", b"p"]), -(48 + 112));
        assert!(has_run(
            &trace(&s),
            &["+104", "+16", "~110>7", "-7", "-40", "-104", "-16"]
        ));
        // 8,144 + 44 + 8 > 8,192: a node of its own.
        delta(&mut s, c, &[b"RPUSH", b"p", &[b'e'; 44]]);
        assert_eq!(delta(&mut s, c, &[b"RPOP", b"p"]), -(48 + 64));
        assert!(has_run(&trace(&s), &["+64", "~53>7", "-7", "-40", "-64"]));
        // Integers fit the first node (8,144 + 11 + 8 <= 8,192); its listpack stays 8 KiB.
        s.heap.record();
        delta(&mut s, c, &[b"RPUSH", b"p", b"12345678901"]);
        assert_eq!(delta(&mut s, c, &[b"RPOP", b"p"]), 0);
        assert!(has_run(&trace(&s), &["+16", "-16"]));
        s.heap.record();
        delta(&mut s, c, &[b"RPUSH", b"p", b"9999"]);
        assert_eq!(delta(&mut s, c, &[b"RPOP", b"p"]), 0);
        assert!(!has_run(&trace(&s), &["+16", "-16"]));
        assert_eq!(s.payload_bytes(), 1 + 79 * 100);
        for _ in 0..79 {
            delta(&mut s, c, &[b"LPOP", b"p"]);
        }
        assert_eq!(s.dbsize(), 0);
        assert_eq!(s.payload_bytes(), 0);
        assert_eq!(s.memory_usage(b"p"), None);
    }

    /// Pops with a count on nodes of 79 and 21 100-byte strings: the reply's iterators (24,
    /// then 40, freed in the other order), `quicklistDelRange`'s own (40); from the tail, 21
    /// starts at the last node's first entry, so that node is cut to nothing (its listpack,
    /// last asked for 2,067 bytes, reallocated to 7) and then freed; from the head, 79 takes
    /// the first node whole (freed without a reallocation, its listpack last asked for 7,217
    /// bytes, past 7 KiB), and the key goes with it.
    #[test]
    fn pops_with_a_count_delete_a_range() {
        let (mut s, c) = ready(-2, 0);
        // Recorded from the start: the trace then names each block by its last request.
        s.heap.record();
        exec(&mut s, c, &hundreds(b"RPUSH", b"p", 100));
        assert_eq!(delta(&mut s, c, &[b"RPOP", b"p", b"21"]), -(48 + 2_560));
        let t = trace(&s);
        assert!(has_run(
            &t,
            &["+24", "+40", "-40", "-24", "+40", "-40", "~2067>7", "-7", "-40"]
        ));
        // The node, the quicklist, the robj, the key's sds and dict entry.
        assert_eq!(
            delta(&mut s, c, &[b"LPOP", b"p", b"79"]),
            -(8_192 + 48 + 48 + 16 + 8 + 32)
        );
        assert!(has_run(&trace(&s), &["+40", "-40", "-7217", "-40"]));
        assert_eq!(s.dbsize(), 0);
        // A count of 0 on a list changes nothing.
        exec(&mut s, c, &hundreds(b"RPUSH", b"p", 3));
        assert_eq!(delta(&mut s, c, &[b"LPOP", b"p", b"0"]), 0);
        assert_eq!(s.memory_usage(b"p"), Some(16 + 40 + 40 + 320 + 8 + 24));
    }

    /// LTRIM 100 -51 on nodes of 79, 79, 42: from the head, the first node whole and 21 of the
    /// second (8,144 - 21 x 103 = 5,981: 8 KiB -> 6 KiB); from the tail, 8 more of the second
    /// (5,157, still 6 KiB, reallocated in place) and the last node whole. Left: one node of 50.
    #[test]
    fn ltrim_cuts_across_nodes() {
        let (mut s, c) = ready(-2, 0);
        s.heap.record();
        for _ in 0..4 {
            exec(&mut s, c, &hundreds(b"RPUSH", b"t", 50));
        }
        assert_eq!(
            delta(&mut s, c, &[b"LTRIM", b"t", b"100", b"-51"]),
            -(48 + 8_192) - 2_048 - (48 + 5_120)
        );
        let t = trace(&s);
        assert!(has_run(
            &t,
            &[
                "+40",
                "-40",
                "-7217",
                "-40",
                "~7217>5981",
                "+40",
                "-40",
                "-4127",
                "-40"
            ]
        ));
        assert_eq!(s.memory_usage(b"t"), Some(16 + 40 + 40 + 6_144 + 8 + 24));
        assert_eq!(s.payload_bytes(), 1 + 50 * 100);
        // Within the node (10 left: 7 + 1,030 = 1,037, in 1,280), then to nothing (a start past
        // the end): the key goes.
        assert_eq!(delta(&mut s, c, &[b"LTRIM", b"t", b"0", b"9"]), 1_280 - 6_144);
        assert_eq!(
            delta(&mut s, c, &[b"LTRIM", b"t", b"20", b"30"]),
            -(1_280 + 48 + 48 + 16 + 8 + 32)
        );
        assert_eq!(s.dbsize(), 0);
    }

    /// LREM by content, from the head (count > 0), the tail (< 0) or everywhere (0), on nodes
    /// of 2 entries: [a 1] [a 22] [a 333] [a]. An integer argument matches the integer entry.
    #[test]
    fn lrem_matches_by_content_in_its_direction() {
        let (mut s, _) = ready(2, 0);
        let mut mem = s.mem();
        let mut l = ListValue::create(&mut mem, Cmd::Rpush, &[]);
        let items: [&[u8]; 7] = [b"a", b"1", b"a", b"22", b"a", b"333", b"a"];
        assert_eq!(l.write(&mut mem, Cmd::Rpush, &items), 10);
        let hasher = NameHasher::new(ELEMENT_HASH_SEED);
        let elems =
            |words: &[&[u8]]| -> Vec<Elem> { words.iter().map(|w| Elem::new(&hasher, w, 10_000)).collect() };
        let contents = |l: &ListValue| -> (Vec<Elem>, Vec<u64>) {
            let e = l.nodes.iter().flat_map(|n| n.elems.iter().copied()).collect();
            (e, l.nodes.iter().map(Node::count).collect())
        };
        assert_eq!(l.write(&mut mem, Cmd::Lrem, &[b"2", b"a"]), -2);
        assert_eq!(
            contents(&l),
            (elems(&[b"1", b"22", b"a", b"333", b"a"]), vec![1, 1, 2, 1])
        );
        // From the tail: the last node goes.
        assert_eq!(l.write(&mut mem, Cmd::Lrem, &[b"-1", b"a"]), -1);
        assert_eq!(contents(&l), (elems(&[b"1", b"22", b"a", b"333"]), vec![1, 1, 2]));
        assert_eq!(l.write(&mut mem, Cmd::Lrem, &[b"0", b"22"]), -2);
        assert_eq!(contents(&l), (elems(&[b"1", b"a", b"333"]), vec![1, 2]));
        assert_eq!(l.write(&mut mem, Cmd::Lrem, &[b"0", b"0333"]), 0);
        assert_eq!(l.write(&mut mem, Cmd::Lrem, &[b"0", b"b"]), 0);
        assert_eq!(l.write(&mut mem, Cmd::Lrem, &[b"-5", b"1"]), -1);
        assert_eq!(l.count, 2);
        l.free(&mut mem);
    }

    /// DEL frees the nodes head to tail (listpack, then node), then the quicklist and the
    /// robj: of nodes of 79, 79 and 42 100-byte strings (listpacks last asked for 7,217,
    /// 7,217 and 4,127 bytes), 3 x 48 + 8,192 + 8,192 + 5,120 + 48 + 16 = 21,712 bytes, and
    /// the key's sds (8) and dict entry (32).
    #[test]
    fn del_frees_the_nodes_in_order() {
        let (mut s, c) = ready(-2, 0);
        s.heap.record();
        for _ in 0..4 {
            exec(&mut s, c, &hundreds(b"RPUSH", b"d", 50));
        }
        assert_eq!(delta(&mut s, c, &[b"DEL", b"d"]), -(21_712 + 8 + 32));
        let t = trace(&s);
        assert!(has_run(
            &t,
            &["-7217", "-40", "-7217", "-40", "-4127", "-40", "-40", "-16"]
        ));
        assert_eq!(s.dbsize(), 0);
    }

    /// `verb key` and `n` strings of 20 bytes `c` (a 22-byte entry each: a 1-byte header,
    /// the bytes, a 1-byte back-length).
    fn twenties(verb: &[u8], key: &[u8], c: u8, n: usize) -> Vec<Vec<u8>> {
        let mut a = argv(&[verb, key]);
        a.extend((0..n).map(|_| vec![c; 20]));
        a
    }

    /// `RPUSH l` of four 20-byte strings of each letter of `letters` in turn: a node of four
    /// per letter when nodes hold 4 entries.
    fn nodes_of_twenties(letters: &[u8]) -> Vec<Vec<u8>> {
        let mut a = twenties(b"RPUSH", b"l", letters[0], 4);
        for &ch in &letters[1..] {
            a.extend(twenties(b"", b"", ch, 4).into_iter().skip(2));
        }
        a
    }

    /// `key`'s list value, to look at its nodes.
    fn list<'a>(s: &'a Server, key: &[u8]) -> &'a ListValue {
        match s.keyspace.value_of(key) {
            Some(Value::List(l)) => l,
            _ => panic!("no list at that key"),
        }
    }

    /// Which of the list's nodes are LZF blocks, head to tail.
    fn compressed(s: &Server, key: &[u8]) -> Vec<bool> {
        list(s, key).nodes.iter().map(Node::is_lzf).collect()
    }

    /// Three nodes at `list-max-listpack-size` 4 and depth 1, each of four 20-byte strings
    /// (7 + 4 x 22 = 95 bytes of listpack, in 96): the middle one compressed when the third
    /// is made. Its listpack, `[95 0 0 0 4 0]` then four times `[148, 20 x 'b', 21]` then
    /// 255, is 20 bytes of LZF: 8 literals (the header, the first entry's header, its first
    /// byte), a back-reference of 19 bytes at offset 0 (3 bytes: 224, 10, 0), the literal 21
    /// (2 bytes), a back-reference of 65 bytes to the entry 22 bytes back (224, 56, 21), which
    /// stops 2 bytes short of the end, and those 2 bytes as literals (3 bytes). So: the node
    /// and `lpNew`, the first entry, then the LZF block asked for at 8 + 95 = 103 bytes (the
    /// 112 class), reallocated to 8 + 20 = 28 (the 32 class), the listpack freed.
    ///
    /// The delta: the key (136), two nodes of 48 + 96, one of 48 + 32: 504. MEMORY USAGE:
    /// robj 16 + quicklist 40 + 3 x 40 + 96 + 32 + 96 + the key's sds 8 + dictEntry 24 = 432.
    #[test]
    fn depth_1_compresses_the_middle_of_three_nodes() {
        let (mut s, c) = ready(4, 1);
        s.heap.record();
        let a = nodes_of_twenties(b"abc");
        assert_eq!(exec(&mut s, c, &a), 504);
        assert!(has_run(
            &trace(&s),
            &["+40", "+7", "~7>29", "+103", "~103>28", "-95"]
        ));
        assert_eq!(compressed(&s, b"l"), [false, true, false]);
        let mid = &list(&s, b"l").nodes[1];
        assert_eq!((mid.bytes, mid.lp.requested, mid.lp.usable), (95, 28, 32));
        assert_eq!(s.memory_usage(b"l"), Some(432));
        // A fifth entry does not go into the full tail: a node of its own (48 + 16), and the
        // old tail, now interior, compressed (96 -> 32): 0 in all. A node at the head likewise
        // (48 + 32) makes the old head interior and compressed (its 'a' entries compress as
        // the 'b' ones did).
        assert_eq!(delta(&mut s, c, &[b"RPUSH", b"l", b"1"]), 0);
        assert_eq!(compressed(&s, b"l"), [false, true, true, false]);
        assert_eq!(
            exec(&mut s, c, &twenties(b"LPUSH", b"l", b'z', 1)),
            48 + 32 + 32 - 96
        );
        assert!(has_run(
            &trace(&s),
            &["+40", "+7", "~7>29", "+103", "~103>28", "-95"]
        ));
        assert_eq!(compressed(&s, b"l"), [false, true, true, true, false]);
    }

    /// LPOP 5 on those three nodes: the reply's iterator enters the head (raw) and leaves it
    /// (`__quicklistCompress` around it: the middle node already compressed), then enters the
    /// middle one, decompressed for use (a block of 95, the LZF block freed), and its release
    /// recompresses it (103, then 28; the listpack freed), before its own blocks go.
    /// `quicklistDelRange` then frees the head whole, and that deletion's pass decompresses the
    /// middle node, now the head (95, the LZF block freed), before the old head's listpack and
    /// node are freed; one entry is cut from the new head (95 -> 73, the 80 class).
    ///
    /// The delta: the old head (48 + 96) gone, the middle node from 32 to 80: -96.
    #[test]
    fn a_counted_pop_decompresses_for_use_and_recompresses() {
        let (mut s, c) = ready(4, 1);
        // Recorded from the start: the trace then names each block by its last request.
        s.heap.record();
        let a = nodes_of_twenties(b"abc");
        exec(&mut s, c, &a);
        assert_eq!(delta(&mut s, c, &[b"LPOP", b"l", b"5"]), -96);
        assert!(has_run(
            &trace(&s),
            &[
                "+24", "+40", "+95", "-28", "+103", "~103>28", "-95", "-40", "-24", "+40", "-40", "+95",
                "-28", "-95", "-40", "~95>73"
            ]
        ));
        assert_eq!(compressed(&s, b"l"), [false, false]);
        assert_eq!(s.memory_usage(b"l"), Some(16 + 40 + 2 * 40 + 80 + 96 + 8 + 24));
    }

    /// Nodes that LZF does not shrink stay listpacks, and every pass tries them again: the
    /// block of 8 + 95 bytes asked for and freed each time. Making the third node tries the
    /// middle one five times: as the old tail (`__quicklistCompress` around it: the node
    /// itself, then the node past the depth from either end, the same one), then around the
    /// new tail (the same node twice).
    #[test]
    fn nodes_that_do_not_compress_are_tried_at_each_pass() {
        let (mut s, c) = ready(4, 1);
        let noise = |i: u8| -> Vec<u8> {
            std::iter::once(b'n')
                .chain((1..20u32).map(|k| ((u32::from(i) * 67 + k * k * 151 + k * 29) % 251) as u8))
                .collect()
        };
        let mut a = argv(&[b"RPUSH", b"l"]);
        a.extend((0..8).map(noise));
        exec(&mut s, c, &a);
        s.heap.record();
        let mut a = argv(&[b"RPUSH", b"l"]);
        a.push(noise(8));
        assert_eq!(exec(&mut s, c, &a), 48 + 32);
        let t = trace(&s);
        let tries = ["+103", "-103"].repeat(5);
        assert!(has_run(&t, &[&["+40", "+7", "~7>29"][..], &tries].concat()));
        assert_eq!(compressed(&s, b"l"), [false, false, false]);
        assert_eq!(
            s.memory_usage(b"l"),
            Some(16 + 40 + 3 * 40 + 96 + 96 + 32 + 8 + 24)
        );
    }

    /// LREM through the compressed middle node: the iterator leaves the head (a pass around
    /// it, nothing to do), enters the middle node (decompressed for use: 95, the LZF block
    /// freed), deletes two entries (95 -> 73 -> 51) and stops there: its release recompresses
    /// the node, 51 bytes of which LZF makes 20 again (8 literals, 19 bytes back at offset 0,
    /// the literal 21, 21 bytes back at offset 21, the last 2 bytes): 59 asked for, then 28.
    /// A second LREM empties the node: decompressed (51, in 64), two deletions (29, then 7),
    /// the node freed (its pass on two nodes does nothing).
    #[test]
    fn lrem_decompresses_the_nodes_it_enters() {
        let (mut s, c) = ready(4, 1);
        s.heap.record();
        let a = nodes_of_twenties(b"abc");
        exec(&mut s, c, &a);
        let b20 = [b'b'; 20];
        assert_eq!(delta(&mut s, c, &[b"LREM", b"l", b"2", &b20]), 0);
        assert!(has_run(
            &trace(&s),
            &["+24", "+40", "+95", "-28", "~95>73", "~73>51", "+59", "~59>28", "-51", "-40", "-24"]
        ));
        assert_eq!(compressed(&s, b"l"), [false, true, false]);
        assert_eq!(delta(&mut s, c, &[b"LREM", b"l", b"0", &b20]), -(48 + 32));
        assert!(has_run(
            &trace(&s),
            &["+24", "+40", "+51", "-28", "~51>29", "~29>7", "-7", "-40", "-40", "-24"]
        ));
        assert_eq!(compressed(&s, b"l"), [false, false]);
    }

    /// Depth 2 keeps two nodes raw at each end: four nodes are all listpacks (a list shorter
    /// than twice the depth is left alone), the fifth makes the middle one LZF. RPOP 4 then
    /// cuts the tail to nothing (its listpack reallocated to 7 bytes), and the pass of its
    /// deletion decompresses the middle node, now within the depth from the tail, before the
    /// tail's blocks are freed.
    #[test]
    fn depth_2_keeps_two_nodes_raw_at_each_end() {
        let (mut s, c) = ready(4, 2);
        s.heap.record();
        let a = nodes_of_twenties(b"abcd");
        exec(&mut s, c, &a);
        assert_eq!(compressed(&s, b"l"), [false; 4]);
        assert_eq!(s.memory_usage(b"l"), Some(16 + 40 + 4 * (40 + 96) + 8 + 24));
        assert_eq!(
            exec(&mut s, c, &twenties(b"RPUSH", b"l", b'e', 4)),
            48 + 96 + 32 - 96
        );
        assert_eq!(compressed(&s, b"l"), [false, false, true, false, false]);
        assert_eq!(delta(&mut s, c, &[b"RPOP", b"l", b"4"]), -(48 + 96) + 96 - 32);
        assert!(has_run(&trace(&s), &["~95>7", "+95", "-28", "-7", "-40"]));
        assert_eq!(compressed(&s, b"l"), [false; 4]);
    }

    /// A server of the Redis 7.2.6 build (bare listpacks), ready as [`ready`] makes one.
    fn ready_72() -> (Server, ClientId) {
        let mut p = RedisProfile::builtin("redis-7.2").unwrap();
        p.baseline.commands_seen = ["ping", "rpush", "lpush", "lpop", "rpop", "ltrim", "lrem", "del"]
            .map(String::from)
            .to_vec();
        let mut s = Server::new(p, 1).unwrap();
        let c = s.connect();
        s.exec(c, &argv(&[b"PING"])).unwrap();
        (s, c)
    }

    /// Redis 7.2: `RPUSH l a b c` on a new key is `lpNew(0)` (7 B) then the robj, the key's
    /// sds (3), the table (32) and entry (24), then the listpack grown for "a" (10, the 16
    /// class) where "b" and "c" fit: MEMORY USAGE robj 16 + listpack 16 + key 8 + entry 24.
    #[test]
    fn a_new_list_is_a_bare_listpack_from_7_2() {
        let (mut s, c) = ready_72();
        s.heap.record();
        assert_eq!(
            delta(&mut s, c, &[b"RPUSH", b"l", b"a", b"b", b"c"]),
            16 + 16 + 8 + 32 + 24
        );
        assert!(has_run(&trace(&s), &["+7", "+16", "+3", "+32", "+24", "~7>10"]));
        assert_eq!(list(&s, b"l").encoding(), "listpack");
        assert_eq!(s.memory_usage(b"l"), Some(64));
        // Popped to nothing: "a" copied into an embedded string (16 + 3 + 1 + 1 = 21, after the
        // argument "l"'s), the listpack reallocated to 13 (in place, the same class), the
        // object freed; the key goes with the last.
        assert_eq!(delta(&mut s, c, &[b"LPOP", b"l"]), 0);
        assert!(has_run(&trace(&s), &["+21", "+21", "-21"]));
        assert_eq!(delta(&mut s, c, &[b"RPOP", b"l", b"5"]), -(16 + 16 + 8 + 24));
        assert_eq!(s.dbsize(), 0);
    }

    /// Redis 7.2: 79 strings of 100 B make a listpack of 8,144 B; the 80th passes 8 KiB
    /// (8,144 + 100 > 8,192): `quicklistCreate` (40), the listpack's node (40), then the push
    /// opens a node of its own (40, `lpNew`, the entry). RPOP leaves one node of 8,144 B, over
    /// half the limit: still a quicklist. LTRIM to 10 (1,037 B, shrunk to fit): one node
    /// within 4 KiB, a bare listpack again (the node, then the quicklist freed).
    #[test]
    fn a_listpack_converts_past_a_node_and_back_under_half() {
        let (mut s, c) = ready_72();
        // Recorded from the start: the trace then names each block by its last request.
        s.heap.record();
        exec(&mut s, c, &hundreds(b"RPUSH", b"t", 79));
        assert_eq!(list(&s, b"t").encoding(), "listpack");
        assert_eq!(s.memory_usage(b"t"), Some(16 + 8_192 + 8 + 24));
        assert_eq!(exec(&mut s, c, &hundreds(b"RPUSH", b"t", 1)), 40 + 40 + 40 + 112);
        assert!(has_run(&trace(&s), &["+40", "+40", "+40", "+7", "~7>110"]));
        assert_eq!(list(&s, b"t").encoding(), "quicklist");
        assert_eq!(delta(&mut s, c, &[b"RPOP", b"t"]), -(40 + 112));
        assert_eq!(list(&s, b"t").encoding(), "quicklist");
        assert_eq!(s.memory_usage(b"t"), Some(16 + 40 + 40 + 8_192 + 8 + 24));
        assert_eq!(
            delta(&mut s, c, &[b"LTRIM", b"t", b"0", b"9"]),
            1_280 - 8_192 - 40 - 40
        );
        assert!(has_run(&trace(&s), &["+40", "-40", "~7217>1037", "-40", "-40"]));
        assert_eq!(list(&s, b"t").encoding(), "listpack");
        assert_eq!(s.memory_usage(b"t"), Some(16 + 1_280 + 8 + 24));
    }

    /// Arguments Redis refuses are refused; a pop or a trim of a missing key does nothing.
    #[test]
    fn bad_arguments_are_refused_and_missing_keys_ignored() {
        let (mut s, c) = ready(-2, 0);
        for cmd in [
            &[&b"RPUSH"[..], b"l"][..],
            &[b"LPUSH"],
            &[b"LPOP"],
            &[b"LPOP", b"l", b"-1"],
            &[b"LPOP", b"l", b"x"],
            &[b"LPOP", b"l", b"1", b"2"],
            &[b"LTRIM", b"l", b"0"],
            &[b"LTRIM", b"l", b"a", b"1"],
            &[b"LREM", b"l", b"1"],
            &[b"LREM", b"l", b"+1", b"x"],
        ] {
            assert!(matches!(s.exec(c, &argv(cmd)).unwrap(), Reply::Unsupported(_)));
        }
        for cmd in [
            &[&b"LPOP"[..], b"l"][..],
            &[b"RPOP", b"l", b"3"],
            &[b"LTRIM", b"l", b"0", b"1"],
            &[b"LREM", b"l", b"0", b"x"],
        ] {
            assert_eq!(delta(&mut s, c, cmd), 0);
        }
        assert_eq!(s.dbsize(), 0);
    }

    /// An element's 12 bytes give back its length and its entry's size; a string's entry size
    /// from its length alone agrees with the listpack's rules at every width boundary.
    #[test]
    fn elements_pack_length_and_entry() {
        assert_eq!(std::mem::size_of::<Elem>(), 12);
        let h = NameHasher::new(ELEMENT_HASH_SEED);
        for len in [
            0usize, 1, 62, 63, 64, 125, 126, 127, 4_094, 4_095, 4_096, 16_375, 16_376, 100_000,
        ] {
            let s = vec![b'k'; len];
            let e = Elem::new(&h, &s, 10_000);
            assert_eq!((e.len(), e.entry()), (len as u64, listpack_entry(&s)), "{len}");
            assert!(!e.is_int());
        }
        // 7-bit, 13-bit, 16, 24, 32 and 64-bit integers: 2, 3, 4, 5, 6 and 10 bytes.
        for (v, entry) in [
            ("0", 2),
            ("127", 2),
            ("-1", 3),
            ("4095", 3),
            ("-32768", 4),
            ("8388607", 5),
            ("-2147483648", 6),
            ("-9223372036854775808", 10),
        ] {
            let e = Elem::new(&h, v.as_bytes(), 10_000);
            assert_eq!(
                (e.len(), e.entry(), e.is_int()),
                (v.len() as u64, entry, true),
                "{v}"
            );
        }
        assert_ne!(Elem::new(&h, b"9999", 10_000).meta & META_SHARED, 0);
        assert_eq!(Elem::new(&h, b"10000", 10_000).meta & META_SHARED, 0);
        assert_eq!(Elem::new(&h, b"-1", 10_000).meta & META_SHARED, 0);
    }
}

//! `fragsim explain SIZE`: what one request costs under one allocator configuration, and
//! `fragsim sizeclasses`: the class table.

use serde::Serialize;

use crate::jemalloc::tcache::ncached_max_small;
use crate::jemalloc::{AllocError, AllocatorConfig, Arena, ArenaOptions, SizeClasses};
use crate::units::{group, human};

/// The cost of one request of `request` bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestCost {
    pub request: u64,
    /// Size class index (`szind`).
    pub class_index: usize,
    /// Small (slab) or large (own extent).
    pub small: bool,
    /// `malloc_usable_size`: what Redis's `zmalloc_size` counts in `used_memory`.
    pub usable: u64,
    /// Small: pages per slab and regions per slab.
    pub slab_pages: u32,
    pub slab_regions: u32,
    /// Large: pages of the extent, the cache-oblivious pad included.
    pub extent_pages: u64,
    /// Large: bytes of the pad page (0 without cache-oblivious).
    pub pad: u64,
    /// Bytes of `stats.active` per object: the extent for large objects; the object's share of
    /// its slab (the class size) for small ones, when slabs are full.
    pub active: u64,
    /// Expected resident bytes per object when the program writes the whole request: pages
    /// touched, averaged over the 64 cache-line offsets of the pad (large), or the region's share
    /// of full slabs (small).
    pub resident: f64,
    /// Whether the thread cache keeps freed objects of this class, and how many.
    pub tcache_slots: u32,
}

/// Computes the cost of one request.
pub fn request_cost(cfg: &AllocatorConfig, request: u64) -> Result<RequestCost, AllocError> {
    let arena = Arena::new(cfg, ArenaOptions::default());
    let sc = arena.size_classes();
    let ind = sc.index_of(request).ok_or(AllocError::TooLarge(request))?;
    let c = *sc.class(ind);
    let usable = arena.usable_size_of(request)?;
    let page = cfg.page();
    let tcache_slots = if cfg.tcache.enabled && usable <= cfg.tcache.max {
        if c.small {
            ncached_max_small(&cfg.tcache, c.nregs)
        } else {
            cfg.tcache.nslots_large
        }
    } else {
        0
    };
    if c.small {
        return Ok(RequestCost {
            request,
            class_index: ind,
            small: true,
            usable,
            slab_pages: c.slab_pages,
            slab_regions: c.nregs,
            extent_pages: 0,
            pad: 0,
            active: usable,
            resident: usable as f64,
            tcache_slots,
        });
    }
    let pad = cfg.large_pad();
    let extent_pages = (usable + pad) / page;
    // Average over the cache-line offsets the pad allows (one offset, 0, without a pad).
    let offsets: Vec<u64> = if pad > 0 {
        (0..page / 64).map(|i| i * 64).collect()
    } else {
        vec![0]
    };
    let touched: u64 = offsets.iter().map(|o| (o + request).div_ceil(page)).sum();
    Ok(RequestCost {
        request,
        class_index: ind,
        small: false,
        usable,
        slab_pages: 0,
        slab_regions: 0,
        extent_pages,
        pad,
        active: extent_pages * page,
        resident: touched as f64 / offsets.len() as f64 * page as f64,
        tcache_slots,
    })
}

fn describe_config(cfg: &AllocatorConfig) -> String {
    format!(
        "{} (jemalloc {}, quantum {} B, {} pages, cache-oblivious {})",
        cfg.name,
        cfg.version,
        1u64 << cfg.lg_quantum,
        human(cfg.page() as f64),
        if cfg.cache_oblivious { "on" } else { "off" }
    )
}

fn pct(over: f64, base: f64) -> String {
    format!("{:+.1}%", (over / base - 1.0) * 100.0)
}

/// The human-readable `explain` report.
pub fn render_explain(cfg: &AllocatorConfig, c: &RequestCost) -> String {
    let mut o = String::new();
    let req = c.request as f64;
    o += &format!(
        "A request of {} B on {}\n\n",
        group(c.request),
        describe_config(cfg)
    );
    o += &format!(
        "  In short: each object costs {} B of allocator_active ({:.2}x the request) and about {} B\n  of RSS ({:.2}x) when fully written.\n\n",
        group(c.active),
        c.active as f64 / req,
        group(c.resident.round() as u64),
        c.resident / req
    );
    if c.small {
        o += &format!(
            "  size class          {:>10} B   small, bin {}\n",
            group(c.usable),
            c.class_index
        );
        o += &format!(
            "  slab                {:>10} B   {} page(s) holding {} regions of {} B\n",
            group(c.slab_pages as u64 * cfg.page()),
            c.slab_pages,
            c.slab_regions,
            group(c.usable)
        );
    } else {
        o += &format!(
            "  size class          {:>10} B   large, {} pages\n",
            group(c.usable),
            c.usable / cfg.page()
        );
        o += &format!(
            "  extent              {:>10} B   {} pages{}\n",
            group(c.active),
            c.extent_pages,
            if c.pad > 0 {
                ", one of them the cache-oblivious pad page"
            } else {
                ", no pad page"
            }
        );
    }
    o += "\n  what each figure sees, per object:\n";
    o += &format!(
        "    malloc_usable_size  {:>10} B  {:>7}  what Redis counts in used_memory\n",
        group(c.usable),
        pct(c.usable as f64, req)
    );
    o += &format!(
        "    stats.active        {:>10} B  {:>7}  allocator_active{}\n",
        group(c.active),
        pct(c.active as f64, req),
        if c.small { " (share of full slabs)" } else { "" }
    );
    o += &format!(
        "    typically resident  {:>10} B  {:>7}  RSS when the whole value is written{}\n",
        group(c.resident.round() as u64),
        pct(c.resident, req),
        if c.small { " (share of full slabs)" } else { "" }
    );
    o += "\n  where the extra bytes go:\n";
    o += &format!("    size-class rounding {:>10} B\n", group(c.usable - c.request));
    if !c.small {
        o += &format!("    pad page            {:>10} B\n", group(c.pad));
    } else {
        o += "    slab holes          up to one slab per class when slabs are not full\n";
    }
    if c.tcache_slots > 0 {
        o += &format!(
            "\n  thread cache: keeps up to {} freed objects of this class ({} B), still counted as\n  allocated and active until flushed or collected\n",
            c.tcache_slots,
            group(c.tcache_slots as u64 * c.usable)
        );
    } else {
        o += "\n  thread cache: not cached (above tcache_max); frees go straight to the arena\n";
    }
    let n = 1000u64;
    o += &format!(
        "\n  1,000 such objects: {} requested, {} used_memory, {} allocator_active, ~{} resident\n",
        human(req * n as f64),
        human((c.usable * n) as f64),
        human((c.active * n) as f64),
        human(c.resident * n as f64)
    );
    o
}

/// One row of `fragsim sizeclasses --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ClassRow {
    pub index: usize,
    pub size: u64,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slab_pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<u32>,
}

/// The class table up to `max` bytes.
pub fn class_rows(sc: &SizeClasses, max: u64) -> Vec<ClassRow> {
    sc.classes()
        .iter()
        .take_while(|c| c.size <= max)
        .map(|c| ClassRow {
            index: c.index,
            size: c.size,
            kind: if c.small { "small" } else { "large" },
            slab_pages: c.small.then_some(c.slab_pages),
            regions: c.small.then_some(c.nregs),
        })
        .collect()
}

/// The human-readable class table.
pub fn render_classes(cfg: &AllocatorConfig, rows: &[ClassRow]) -> String {
    let mut o = format!("Size classes of {}\n\n", describe_config(cfg));
    o += &format!(
        "{:>5}  {:>14}  {:<5}  {:>10}  {:>7}  {:>12}\n",
        "index", "size (B)", "kind", "slab pages", "regions", "extent pages"
    );
    let pad_pages = cfg.large_pad() / cfg.page();
    for r in rows {
        match (r.slab_pages, r.regions) {
            (Some(p), Some(n)) => {
                o += &format!(
                    "{:>5}  {:>14}  {:<5}  {:>10}  {:>7}  {:>12}\n",
                    r.index,
                    group(r.size),
                    r.kind,
                    p,
                    n,
                    ""
                )
            }
            _ => {
                o += &format!(
                    "{:>5}  {:>14}  {:<5}  {:>10}  {:>7}  {:>12}\n",
                    r.index,
                    group(r.size),
                    r.kind,
                    "",
                    "",
                    r.size / cfg.page() + pad_pages
                )
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_kb_versus_two_kb() {
        let cfg = AllocatorConfig::preset("jemalloc-5.3").unwrap();
        let big = request_cost(&cfg, 30_000).unwrap();
        assert_eq!(
            (big.usable, big.extent_pages, big.active, big.pad),
            (32_768, 9, 36_864, 4096)
        );
        // 44 of 64 offsets keep 30,000 B within 8 pages, 20 spill into the 9th:
        // (44 * 8 + 20 * 9) / 64 pages.
        assert_eq!(big.resident, (44.0 * 8.0 + 20.0 * 9.0) / 64.0 * 4096.0);
        let small = request_cost(&cfg, 2_000).unwrap();
        assert_eq!(
            (small.usable, small.slab_pages, small.slab_regions, small.active),
            (2048, 1, 2, 2048)
        );
        assert_eq!(small.tcache_slots, 20);
        let text = render_explain(&cfg, &big);
        assert!(text.contains("36,864 B"));
        assert!(text.contains("pad page"));
    }
}

//! The charts `fragsim run` writes: PNGs that decode, have the expected size and are not blank;
//! SVGs that parse and carry their titles and legend labels.

mod common;
use common::*;

#[test]
fn run_writes_readable_charts() {
    let dir = std::env::temp_dir().join(format!("fragsim-charts-{}", std::process::id()));
    let scenario = format!("{}/scenarios/seed-suite.toml", env!("CARGO_MANIFEST_DIR"));
    let (rc, _, err) = fragsim(&["run", &scenario, "--runs", "4", "--out", dir.to_str().unwrap()]);
    assert_eq!(rc, 0, "{err}");
    for (name, title, labels) in [
        (
            "timeline",
            "Memory per test",
            vec!["30 KB objects: used_memory_rss", "2 KB objects: allocator_active"],
        ),
        (
            "peaks",
            "Peak memory per variant",
            vec![
                "peak used_memory",
                "peak used_memory_rss",
                "variant: 2 KB objects",
            ],
        ),
        (
            "ratios",
            "Fragmentation ratios",
            vec![
                "allocator_frag_ratio (active / allocated)",
                "mem_fragmentation_ratio (RSS / used_memory)",
            ],
        ),
    ] {
        let png = image::open(dir.join(format!("{name}.png")))
            .unwrap_or_else(|e| panic!("{name}.png: {e}"))
            .to_rgb8();
        assert_eq!(png.dimensions(), (1200, 700), "{name}");
        let first = *png.get_pixel(0, 0);
        let differing = png.pixels().filter(|p| **p != first).count();
        assert!(
            differing > 1200 * 700 / 50,
            "{name}.png is nearly blank ({differing} pixels differ)"
        );
        let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}.svg: {e}"));
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.is_text())
            .filter_map(|n| n.text())
            .collect();
        assert!(texts.iter().any(|t| t.contains(title)), "{name}: title missing");
        for l in labels {
            assert!(texts.iter().any(|t| t.contains(l)), "{name}: label {l:?} missing");
        }
    }
    // No temporary files are left behind.
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
    std::fs::remove_dir_all(&dir).unwrap();
}

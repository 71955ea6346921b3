//! The seed-claims report as a reviewer sees it: report.html rendered by headless Chromium at a
//! narrow (800 px) and a wide (1280 px) window, measured in the browser with its own fonts. The
//! verdict comes before the charts, every chart fits the window (its legend visible), no chart
//! text is under 11 px or overlaps another. (That the table prints each figure as `check` does
//! is tested in `sweep_report`.)
//!
//! Needs Chromium (`/usr/bin/chromium`, or the path in FRAGSIM_CHROMIUM; `.ci/run` installs
//! Debian's); without it the test says so and passes, unless FRAGSIM_REQUIRE_BROWSER=1.

use crate::common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("FRAGSIM_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.exists() {
        return Some(path);
    }
    missing(
        "FRAGSIM_REQUIRE_BROWSER",
        &format!("no Chromium at {}", path.display()),
        "set FRAGSIM_CHROMIUM, or apt-get install chromium",
    );
    None
}

/// Measures the page in the browser after layout and writes the figures as JSON into a
/// `<pre id="probe">` that `--dump-dom` prints.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const out = {width: window.innerWidth, svgs: [], small: [], overlaps: [], order: []};
  const top = el => el.getBoundingClientRect().top + window.scrollY;
  const verdict = [...document.querySelectorAll('h2')].find(h => h.textContent.startsWith('Verdict'));
  const firstFigure = document.querySelector('figure');
  out.order = [verdict ? top(verdict) : -1, firstFigure ? top(firstFigure) : -1];
  for (const svg of document.querySelectorAll('figure svg')) {
    const r = svg.getBoundingClientRect();
    const id = svg.parentElement.id;
    out.svgs.push({id, left: r.left, right: r.right, width: r.width});
    const scale = r.width / svg.viewBox.baseVal.width;
    const boxes = [];
    for (const t of svg.querySelectorAll('text')) {
      const text = t.textContent.trim();
      if (!text) continue;
      const px = parseFloat(t.getAttribute('font-size')) * scale;
      if (px < 11) out.small.push({id, text, px});
      if (t.getAttribute('transform')) continue;
      const b = t.getBoundingClientRect();
      // Glyph boxes include the line's leading: keep the middle 60% of the height.
      boxes.push({text, l: b.left, r: b.right, t: b.top + b.height * 0.2, b: b.bottom - b.height * 0.2});
    }
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], c = boxes[j];
      const dx = Math.min(a.r, c.r) - Math.max(a.l, c.l);
      const dy = Math.min(a.b, c.b) - Math.max(a.t, c.t);
      if (dx > 1 && dy > 1) out.overlaps.push({id, a: a.text, b: c.text, dx, dy});
    }
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
</body>"#;

/// Renders `html` at `width` px; Chromium keeps several processes busy, so it runs as heavy work.
fn render(browser: &Path, html: &Path, width: u32, profile: &Path) -> serde_json::Value {
    let _heavy = heavy_work();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},1000"))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("start chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"probe\">").unwrap_or_else(|| {
        panic!(
            "no probe output; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rest = &dom[start + "<pre id=\"probe\">".len()..];
    let json = &rest[..rest.find("</pre>").unwrap()];
    let json = json
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

#[test]
fn seed_claims_report_reads_well_in_a_browser() {
    let Some(browser) = chromium() else { return };
    let dir = fresh_dir("browser");
    let scenario = scenario_path("seed-claims.toml");
    let out = dir.join("report");
    let (rc, _, err) = fragsim(&["report", &scenario, "--runs", "8", "--out", arg(&out)]);
    assert_eq!(rc, 0, "{err}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let probe = dir.join("probe.html");
    std::fs::write(&probe, html.replacen("</body>", PROBE, 1)).unwrap();

    for width in [800u32, 1280] {
        let m = render(&browser, &probe, width, &dir.join(format!("chromium-{width}")));
        let order = m["order"].as_array().unwrap();
        let (verdict, figure) = (order[0].as_f64().unwrap(), order[1].as_f64().unwrap());
        assert!(
            verdict >= 0.0 && verdict < figure,
            "{width} px: verdict at {verdict}, first chart at {figure}"
        );
        let svgs = m["svgs"].as_array().unwrap();
        assert_eq!(svgs.len(), 5, "{width} px: {m}");
        let window = m["width"].as_f64().unwrap();
        for s in svgs {
            // The whole chart, legend included, is inside the window.
            assert!(
                s["left"].as_f64().unwrap() >= 0.0 && s["right"].as_f64().unwrap() <= window + 0.5,
                "{width} px: chart {s} does not fit the {window} px window"
            );
        }
        assert_eq!(
            m["small"].as_array().unwrap().len(),
            0,
            "{width} px: texts under 11 px: {}",
            m["small"]
        );
        assert_eq!(
            m["overlaps"].as_array().unwrap().len(),
            0,
            "{width} px: overlapping texts: {}",
            m["overlaps"]
        );
    }

    std::fs::remove_dir_all(&dir).unwrap();
}

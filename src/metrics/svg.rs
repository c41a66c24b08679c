//! Line charts drawn on the server as inline SVG: readable without JavaScript.
use std::fmt::Write;

pub struct Line<'a> {
    pub name: &'a str,
    pub color: &'a str,
    /// One value per step, oldest first; None leaves a gap.
    pub values: Vec<Option<f64>>,
}

const W: f64 = 720.0;
const H: f64 = 190.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 22.0;

/// A round number at or above `v` (1, 2 or 5 times a power of ten).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|&c| c >= v).unwrap_or(10.0 * p)
}

fn label(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    }
}

/// A chart titled `title`, x from `span` ago (left) to now (right), y in `unit`.
pub fn chart(title: &str, span: &str, unit: &str, lines: &[Line<'_>]) -> String {
    let n = lines.iter().map(|l| l.values.len()).max().unwrap_or(0).max(2);
    let top = lines
        .iter()
        .flat_map(|l| l.values.iter().flatten())
        .fold(0.0f64, |a, &b| if b.is_finite() { a.max(b) } else { a });
    let ymax = nice_ceiling(top);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |i: usize| LEFT + pw * i as f64 / (n - 1) as f64;
    let y = |v: f64| TOP + ph * (1.0 - (v / ymax).clamp(0.0, 1.0));
    let mut out = String::with_capacity(8 * 1024);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\">\
         <rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fff\"/>\
         <text x=\"{LEFT}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{t}</text>",
        t = super::html::escape(title)
    );
    let mut lx = LEFT + 260.0;
    for l in lines {
        let _ = write!(
            out,
            "<rect x=\"{lx}\" y=\"7\" width=\"12\" height=\"10\" fill=\"{c}\"/><text x=\"{tx}\" y=\"16\" font-size=\"12\">{name}</text>",
            c = l.color,
            tx = lx + 16.0,
            name = super::html::escape(l.name)
        );
        lx += 24.0 + 7.0 * l.name.len() as f64;
    }
    for frac in [0.0, 0.5, 1.0] {
        let v = ymax * frac;
        let yy = y(v);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{lx:.1}\" y=\"{ty:.1}\" font-size=\"11\" text-anchor=\"end\">{v} {unit}</text>",
            x2 = W - RIGHT,
            lx = LEFT - 4.0,
            ty = yy + 4.0,
            v = label(v),
            unit = super::html::escape(unit)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{LEFT}\" y=\"{by}\" font-size=\"11\">-{span}</text><text x=\"{rx}\" y=\"{by}\" font-size=\"11\" text-anchor=\"end\">now</text>",
        by = H - 6.0,
        rx = W - RIGHT,
        span = super::html::escape(span)
    );
    for l in lines {
        let mut points = String::new();
        let flush = |points: &mut String, out: &mut String| {
            if !points.is_empty() {
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
                    l.color,
                    points.trim_end()
                );
                points.clear();
            }
        };
        for (i, v) in l.values.iter().enumerate() {
            match v {
                Some(v) if v.is_finite() => {
                    let _ = write!(points, "{:.1},{:.1} ", x(i), y(*v));
                }
                _ => flush(&mut points, &mut out),
            }
        }
        flush(&mut points, &mut out);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(0.0041), 0.005);
    }

    #[test]
    fn gaps_split_lines() {
        let svg = chart(
            "t",
            "1 h",
            "ms",
            &[Line {
                name: "p50",
                color: "#000",
                values: vec![Some(1.0), None, Some(2.0), Some(3.0)],
            }],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }
}

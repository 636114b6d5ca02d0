//! Ranges and constraints: which way a bound, a length, a pattern or
//! `uniqueItems` moved, so the side of the wire can say whether that breaks.

use serde_json::Value;

use crate::schema::{Attr, View};

/// The constraint keywords a [`View`] collects and [`range_changes`]
/// compares.
pub(crate) const CONSTRAINTS: [&str; 13] = [
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "multipleOf",
    "uniqueItems",
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Narrowed,
    Widened,
    Both,
}

pub(crate) struct RangeChange {
    pub(crate) message: String,
    pub(crate) effect: Effect,
    pub(crate) old_at: Option<String>,
    pub(crate) new_at: Option<String>,
}

/// A numeric bound: the value, whether it is exclusive, its text.
#[derive(Clone)]
struct Bound {
    value: f64,
    exclusive: bool,
    text: String,
    at: String,
}

fn constraint<'v>(view: &'v View<'_>, keyword: &str) -> Option<&'v Attr<Value>> {
    view.constraints.get(keyword)
}

fn show_number(value: Option<&Attr<Value>>) -> String {
    value.map_or_else(|| "(none)".to_string(), |a| a.value.to_string())
}

/// The effective lower (`minimum`) or upper (`maximum`) bound, 3.0 boolean
/// and 3.1 numeric `exclusive*` forms included.
fn bound(view: &View<'_>, lower: bool) -> Option<Bound> {
    let (inclusive, exclusive) = if lower {
        ("minimum", "exclusiveMinimum")
    } else {
        ("maximum", "exclusiveMaximum")
    };
    let mut candidates = Vec::new();
    let exclusive_attr = constraint(view, exclusive);
    if let Some(attr) = constraint(view, inclusive)
        && let Some(value) = attr.value.as_f64()
    {
        let flag = exclusive_attr.is_some_and(|e| e.value == Value::Bool(true));
        candidates.push(Bound {
            value,
            exclusive: flag,
            text: format!("{}{}", attr.value, if flag { " (exclusive)" } else { "" }),
            at: attr.at.clone(),
        });
    }
    if let Some(attr) = exclusive_attr
        && let Some(value) = attr.value.as_f64()
    {
        candidates.push(Bound {
            value,
            exclusive: true,
            text: format!("{} (exclusive)", attr.value),
            at: attr.at.clone(),
        });
    }
    candidates.into_iter().reduce(|a, b| {
        let b_tighter = if lower {
            b.value > a.value || (b.value == a.value && b.exclusive)
        } else {
            b.value < a.value || (b.value == a.value && b.exclusive)
        };
        if b_tighter { b } else { a }
    })
}

/// Whether `new` is tighter than `old` (`None` is unbounded).
fn tighter(old: Option<&Bound>, new: Option<&Bound>, lower: bool) -> bool {
    match (old, new) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(o), Some(n)) => {
            let further = if lower {
                n.value > o.value
            } else {
                n.value < o.value
            };
            further || (n.value == o.value && n.exclusive && !o.exclusive)
        }
    }
}

pub(crate) fn range_changes(o: &View<'_>, n: &View<'_>) -> Vec<RangeChange> {
    let mut out = Vec::new();
    for (lower, name) in [(true, "minimum"), (false, "maximum")] {
        let (ob, nb) = (bound(o, lower), bound(n, lower));
        let narrowed = tighter(ob.as_ref(), nb.as_ref(), lower);
        let widened = tighter(nb.as_ref(), ob.as_ref(), lower);
        if narrowed || widened {
            let verb = match (lower, narrowed) {
                (true, true) | (false, false) => "raised",
                (true, false) | (false, true) => "lowered",
            };
            let text =
                |b: &Option<Bound>| b.as_ref().map_or("(none)".to_string(), |b| b.text.clone());
            out.push(RangeChange {
                message: format!("{name} {verb} from {} to {}", text(&ob), text(&nb)),
                effect: if narrowed {
                    Effect::Narrowed
                } else {
                    Effect::Widened
                },
                old_at: ob.map(|b| b.at),
                new_at: nb.map(|b| b.at),
            });
        }
    }
    // Counts: a lower count bound defaults to 0, an upper one to unbounded.
    for (keyword, lower) in [
        ("minLength", true),
        ("minItems", true),
        ("minProperties", true),
        ("maxLength", false),
        ("maxItems", false),
        ("maxProperties", false),
    ] {
        let (oa, na) = (constraint(o, keyword), constraint(n, keyword));
        let value = |a: Option<&Attr<Value>>| a.and_then(|a| a.value.as_f64());
        let (ov, nv) = (value(oa), value(na));
        let (ov, nv) = if lower {
            (ov.unwrap_or(0.0), nv.unwrap_or(0.0))
        } else {
            (ov.unwrap_or(f64::INFINITY), nv.unwrap_or(f64::INFINITY))
        };
        if ov == nv {
            continue;
        }
        let raised = nv > ov;
        out.push(RangeChange {
            message: format!(
                "{keyword} {} from {} to {}",
                if raised { "raised" } else { "lowered" },
                show_number(oa),
                show_number(na)
            ),
            effect: if raised == lower {
                Effect::Narrowed
            } else {
                Effect::Widened
            },
            old_at: oa.map(|a| a.at.clone()),
            new_at: na.map(|a| a.at.clone()),
        });
    }
    // Restrictions that cannot be ordered: adding narrows, removing widens,
    // changing does both.
    for keyword in ["pattern", "multipleOf"] {
        let (oa, na) = (constraint(o, keyword), constraint(n, keyword));
        let effect = match (oa, na) {
            (None, Some(_)) => Effect::Narrowed,
            (Some(_), None) => Effect::Widened,
            (Some(a), Some(b)) if a.value != b.value => Effect::Both,
            _ => continue,
        };
        out.push(RangeChange {
            message: format!(
                "{keyword} changed from {} to {}",
                show_number(oa),
                show_number(na)
            ),
            effect,
            old_at: oa.map(|a| a.at.clone()),
            new_at: na.map(|a| a.at.clone()),
        });
    }
    let unique =
        |v: &View<'_>| constraint(v, "uniqueItems").is_some_and(|a| a.value == Value::Bool(true));
    if unique(o) != unique(n) {
        out.push(RangeChange {
            message: format!("uniqueItems changed from {} to {}", unique(o), unique(n)),
            effect: if unique(n) {
                Effect::Narrowed
            } else {
                Effect::Widened
            },
            old_at: constraint(o, "uniqueItems").map(|a| a.at.clone()),
            new_at: constraint(n, "uniqueItems").map(|a| a.at.clone()),
        });
    }
    out
}

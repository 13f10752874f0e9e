//! A compiled `flatmap_filter` (backend or endpoint `extra_config.proxy`): its operations, read
//! once from the filter's JSON. The shape phase runs them.

use serde_json::Value;

use super::paths::{self, Segment};

/// A compiled `flatmap_filter`: `move`, `append` and `del` operations on dot paths, run in order.
#[derive(Debug)]
pub(crate) struct Flatmap {
    /// Only the operations that do something: unknown types and malformed `move`/`append`
    /// are dropped at compile time.
    pub(crate) ops: Vec<Op>,
}

#[derive(Debug)]
pub(crate) enum Op {
    Move { src: Vec<Segment>, dst: Vec<Segment> },
    Append { src: Vec<Segment>, dst: Vec<Segment> },
    Del(Vec<Vec<Segment>>),
}

impl Flatmap {
    /// `None` when the filter is not an array or holds no object with a string `type`; in
    /// lura only then is the filter absent. An unknown `type` (EE's `copy`, a typo) still
    /// counts, so it switches a backend to flatmap mode while doing nothing itself.
    pub(crate) fn compile(flatmap_filter: &Value) -> Option<Flatmap> {
        let entries = flatmap_filter.as_array()?;
        let mut typed = false;
        let mut ops = Vec::new();
        for entry in entries {
            let Some(kind) = entry.get("type").and_then(Value::as_str) else {
                continue;
            };
            typed = true;
            // A non-string argument is an empty path, which matches nothing.
            let args: Vec<Vec<Segment>> = match entry.get("args") {
                Some(Value::Array(args)) => {
                    args.iter().map(|arg| arg.as_str().map(paths::split).unwrap_or_default()).collect()
                }
                _ => Vec::new(),
            };
            // lura panics on a `move`/`append` with fewer than two arguments; skip it instead.
            let mut args = args.into_iter();
            let op = match kind {
                "move" | "append" => {
                    let (Some(src), Some(dst)) = (args.next(), args.next()) else {
                        continue;
                    };
                    if kind == "move" { Op::Move { src, dst } } else { Op::Append { src, dst } }
                }
                "del" => Op::Del(args.collect()),
                _ => continue,
            };
            ops.push(op);
        }
        typed.then_some(Flatmap { ops })
    }

    /// True when `apply` returns its input unchanged.
    pub(crate) fn is_identity(&self) -> bool {
        self.ops.is_empty()
    }
}

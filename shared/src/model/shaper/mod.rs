//! A backend's compiled shaping (`target`, `allow`/`deny`, `mapping`, `group`,
//! `flatmap_filter`): the `Shaper`, its field filters, flatmap operations and dot paths, each
//! built once from the config by its constructor here. The shape phase runs them.

mod filter;
mod flatmap;
pub(crate) mod paths;

pub(crate) use filter::{AllowTree, DenyTree, FieldFilter};
pub(crate) use flatmap::{Flatmap, Op};

/// Everything a backend's formatting needs, compiled once at start-up (no per-request parsing
/// of dot paths).
#[derive(Debug)]
pub(crate) struct Shaper {
    /// `target` split on `.`; `None` when empty.
    pub(crate) target: Option<Vec<String>>,
    pub(crate) mode: Mode,
    /// `None` when empty.
    pub(crate) group: Option<String>,
    /// How deep shaping looks into nested objects (the target's steps, then the longest field
    /// path), for the transcoder to keep those objects' members.
    split_depth: usize,
}

/// A flatmap filter replaces the field filters and the mapping entirely, as in lura.
#[derive(Debug)]
pub(crate) enum Mode {
    Fields {
        filter: Option<FieldFilter>,
        /// `old` -> `new` truncated at its first `.`, applied in config order.
        mapping: Vec<(String, String)>,
    },
    Flatmap(Flatmap),
}

impl Shaper {
    /// `flatmap_filter` is the raw JSON of the backend's `extra_config.proxy.flatmap_filter`
    /// (None if absent). A flatmap filter counts only if it is an array with at least one op
    /// whose `type` is a string; then allow/deny/mapping are ignored.
    pub(crate) fn new(
        target: &str,
        allow: &[String],
        deny: &[String],
        mapping: &[(String, String)],
        group: &str,
        flatmap_filter: Option<&serde_json::Value>,
    ) -> Shaper {
        let mode = match flatmap_filter.and_then(Flatmap::compile) {
            Some(flatmap) => Mode::Flatmap(flatmap),
            None => Mode::Fields {
                filter: FieldFilter::new(allow, deny),
                mapping: mapping
                    .iter()
                    .map(|(old, new)| {
                        let new = new.split('.').next().unwrap_or_default();
                        (old.clone(), new.to_owned())
                    })
                    .collect(),
            },
        };
        let target: Option<Vec<String>> = (!target.is_empty()).then(|| target.split('.').map(str::to_owned).collect());
        let fields = if allow.is_empty() { deny } else { allow };
        let longest_field = fields.iter().map(|p| p.split('.').count()).max().unwrap_or(1);
        Shaper {
            split_depth: target.as_ref().map_or(0, Vec::len) + longest_field - 1,
            target,
            mode,
            group: (!group.is_empty()).then(|| group.to_owned()),
        }
    }

    /// How deep [`Shaper::apply_raw`] looks into nested objects (0: the top level only).
    pub(crate) fn split_depth(&self) -> usize {
        self.split_depth
    }

    /// Whether [`Shaper::apply_raw`] can shape a transcoded object (everything but a flatmap
    /// filter, which works on trees).
    pub(crate) fn shapes_raw(&self) -> bool {
        match &self.mode {
            Mode::Flatmap(flatmap) => flatmap.is_identity(),
            Mode::Fields { .. } => true,
        }
    }

    /// `Some(group)` when apply() does nothing but (with a group) wrap its input.
    pub(crate) fn only_groups(&self) -> Option<Option<&str>> {
        let mode_is_identity = match &self.mode {
            Mode::Flatmap(flatmap) => flatmap.is_identity(),
            Mode::Fields { filter, mapping } => filter.is_none() && mapping.is_empty(),
        };
        (self.target.is_none() && mode_is_identity).then_some(self.group.as_deref())
    }

    /// true when apply() would return its input unchanged (nothing configured) - lets callers
    /// skip work.
    pub(crate) fn is_identity(&self) -> bool {
        self.only_groups() == Some(None)
    }
}

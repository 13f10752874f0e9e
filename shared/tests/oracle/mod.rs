//! Independent reference implementations (oracles) that the differential property tests
//! (`tests/differential.rs`) and the fuzz targets (`fuzz/`) check the gateway's code against.
//! Written from KrakenD's documented behaviour and Go's standard library, on plain
//! `serde_json::Value`s, without calling the crate: a bug copied into both would go unseen.
#![allow(dead_code)]

pub mod go {
    //! Go's standard library functions the gateway reproduces.

    /// Go's `time.ParseDuration`, in nanoseconds (its algorithm, integer arithmetic included:
    /// a fraction adds `uint64(float64(f) * (float64(unit) / scale))`, truncated).
    pub fn parse_duration(orig: &str) -> Option<i64> {
        const LIMIT: u64 = 1 << 63;
        let mut s = orig.as_bytes();
        let mut neg = false;
        if let Some(&c) = s.first()
            && (c == b'-' || c == b'+')
        {
            neg = c == b'-';
            s = &s[1..];
        }
        if s == b"0" {
            return Some(0);
        }
        if s.is_empty() {
            return None;
        }
        let mut d: u64 = 0;
        while !s.is_empty() {
            if !(s[0] == b'.' || s[0].is_ascii_digit()) {
                return None;
            }
            // leadingInt
            let before = s.len();
            let mut v: u64 = 0;
            let mut i = 0;
            while i < s.len() && s[i].is_ascii_digit() {
                if v > LIMIT / 10 {
                    return None;
                }
                v = v * 10 + u64::from(s[i] - b'0');
                if v > LIMIT {
                    return None;
                }
                i += 1;
            }
            s = &s[i..];
            let pre = before != s.len();
            // leadingFraction
            let mut f: u64 = 0;
            let mut scale = 1.0f64;
            let mut post = false;
            if s.first() == Some(&b'.') {
                s = &s[1..];
                let before = s.len();
                let mut overflow = false;
                let mut i = 0;
                while i < s.len() && s[i].is_ascii_digit() {
                    let c = s[i];
                    i += 1;
                    if overflow {
                        continue;
                    }
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                        continue;
                    }
                    let y = f * 10 + u64::from(c - b'0');
                    if y > LIMIT {
                        overflow = true;
                        continue;
                    }
                    f = y;
                    scale *= 10.0;
                }
                s = &s[i..];
                post = before != s.len();
            }
            if !pre && !post {
                return None;
            }
            let mut i = 0;
            while i < s.len() && !(s[i] == b'.' || s[i].is_ascii_digit()) {
                i += 1;
            }
            if i == 0 {
                return None;
            }
            let unit: u64 = match &s[..i] {
                b"ns" => 1,
                b"us" => 1_000,
                u if u == "µs".as_bytes() || u == "μs".as_bytes() => 1_000,
                b"ms" => 1_000_000,
                b"s" => 1_000_000_000,
                b"m" => 60 * 1_000_000_000,
                b"h" => 3600 * 1_000_000_000,
                _ => return None,
            };
            s = &s[i..];
            if v > LIMIT / unit {
                return None;
            }
            v *= unit;
            if f > 0 {
                v += (f as f64 * (unit as f64 / scale)) as u64;
                if v > LIMIT {
                    return None;
                }
            }
            d += v;
            if d > LIMIT {
                return None;
            }
        }
        if neg {
            return Some((d as i64).wrapping_neg());
        }
        if d > LIMIT - 1 {
            return None;
        }
        Some(d as i64)
    }

    /// krakendio/httpcache's `parseCacheControl`: the first header line split on `,`, each part
    /// trimmed of spaces; `k=v` split on every `=`, the key trimmed of spaces, the value (the
    /// text between the first and second `=`) trimmed of commas; a later duplicate wins.
    pub fn cache_control(line: &str) -> std::collections::BTreeMap<String, String> {
        let mut cc = std::collections::BTreeMap::new();
        for part in line.split(',') {
            let part = part.trim_matches(' ');
            if part.is_empty() {
                continue;
            }
            if part.contains('=') {
                let keyval: Vec<&str> = part.split('=').collect();
                cc.insert(keyval[0].trim_matches(' ').to_owned(), keyval[1].trim_matches(',').to_owned());
            } else {
                cc.insert(part.to_owned(), String::new());
            }
        }
        cc
    }

    /// Go's `path.Clean`, then httprouter's `CleanPath` additions: a leading `/` always, a
    /// trailing `/` kept.
    pub fn clean_path(p: &str) -> String {
        if p.is_empty() {
            return "/".to_owned();
        }
        let rooted = format!("/{}", p.trim_start_matches('/'));
        // path.Clean, by its lexical rules, on a rooted path.
        let mut out: Vec<&str> = Vec::new();
        for elem in rooted.split('/') {
            match elem {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                e => out.push(e),
            }
        }
        let mut cleaned = String::from("/");
        cleaned.push_str(&out.join("/"));
        if p.ends_with('/') && cleaned != "/" {
            cleaned.push('/');
        }
        cleaned
    }

    /// Percent-decoding as a Go server's router sees a path: every `%` must start two hex digits
    /// (else the request is refused), and the result must be UTF-8 (a Rust string).
    pub fn percent_decode(raw: &str) -> Option<String> {
        let b = raw.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = |c: u8| (c as char).to_digit(16);
                let hi = b.get(i + 1).copied().and_then(hex)?;
                let lo = b.get(i + 2).copied().and_then(hex)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }
}

pub mod json {
    //! Comparing decoded JSON where serde_json and the gateway's decoders keep number literals
    //! differently.
    use serde_json::Value;

    /// Equal values, numbers equal when their `f64` values are and, for integers written without
    /// a fraction or exponent, when their digits are (so `12345678901234567891` is not
    /// `12345678901234567890`).
    pub fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => same_number(&x.to_string(), &y.to_string()),
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
            }
            _ => a == b,
        }
    }

    pub fn same_number(x: &str, y: &str) -> bool {
        let plain = |s: &str| !s.contains(['.', 'e', 'E']);
        if plain(x) && plain(y) {
            let strip = |s: &str| {
                let (sign, digits) = s.strip_prefix('-').map_or(("", s), |d| ("-", d));
                let digits = digits.trim_start_matches('0');
                if digits.is_empty() { "0".to_owned() } else { format!("{sign}{digits}") }
            };
            return strip(x) == strip(y);
        }
        match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => x == y,
        }
    }

    /// How deep a value nests (a scalar is 0, `[1]` is 1).
    pub fn depth(v: &Value) -> usize {
        match v {
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

pub mod shape {
    //! KrakenD's response formatting (a backend's data, `allow`, `deny`, `mapping`, `target`,
    //! `flatmap_filter`) on `serde_json::Value`s.
    //!
    //! Rules KrakenD's documentation leaves open, as chosen here (lura's behaviour, to be
    //! confirmed):
    //! * `allow` entries that are prefixes of each other: entries apply in order and a later entry
    //!   replaces an earlier one on the same key (`["a", "a.b"]` keeps `a.b` only, `["a.b", "a"]`
    //!   keeps all of `a`): lura builds its tree entry by entry.
    //! * `mapping` entries apply in config order (lura iterates a Go map, in random order), the
    //!   `old` key is looked up literally (a dotted `old` matches a key containing that dot, not
    //!   a nested path), and `old` is deleted after `new` is written, so mapping a key to itself
    //!   deletes it.
    //! * `flatmap_filter`: `del`, `append` and same-length `move` (a rename) are modelled; an
    //!   object or array that a `del` or an `append` empties becomes `null`. Cases the
    //!   documentation does not settle make [`apply`] return `None`: promotion and embedding
    //!   moves, a `*` as the last segment of a move source, a rename onto a key that exists, an
    //!   array index after an element was removed from any array (krakend/flatmap keeps each
    //!   element's first index as its name), `append` through `*` or between nested paths.
    use serde_json::{Map, Value};

    type Object = Map<String, Value>;

    #[derive(Debug, Clone, Default)]
    pub struct Rules {
        pub target: String,
        pub allow: Vec<String>,
        pub deny: Vec<String>,
        pub mapping: Vec<(String, String)>,
        pub group: String,
        pub flatmap_filter: Option<Value>,
    }

    /// One flatmap operation, as KrakenD's `flatmap_filter` lists them.
    enum Op {
        Del(Vec<String>),
        Move(String, String),
        Append(String, String),
        /// An operation with a string `type` that does nothing (unknown type, missing args).
        Nothing,
    }

    impl Rules {
        /// The operations of a filter that counts (an array with at least one object whose
        /// `type` is a string), else `None`.
        fn flatmap_ops(&self) -> Option<Vec<Op>> {
            let entries = self.flatmap_filter.as_ref()?.as_array()?;
            let mut typed = false;
            let mut ops = Vec::new();
            for entry in entries {
                let Some(kind) = entry.get("type").and_then(Value::as_str) else { continue };
                typed = true;
                let args: Vec<Option<String>> = match entry.get("args") {
                    Some(Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
                    _ => Vec::new(),
                };
                ops.push(match kind {
                    "del" => Op::Del(args.into_iter().flatten().collect()),
                    "move" | "append" if args.len() >= 2 => match (&args[0], &args[1]) {
                        (Some(a), Some(b)) if kind == "move" => Op::Move(a.clone(), b.clone()),
                        (Some(a), Some(b)) => Op::Append(a.clone(), b.clone()),
                        _ => Op::Nothing,
                    },
                    _ => Op::Nothing,
                });
            }
            typed.then_some(ops)
        }
    }

    /// The data a backend contributes (`target`, `allow`, `deny`, `mapping`, flatmap); `None` for
    /// a flatmap case the documentation does not settle (see the module's notes).
    pub fn apply(rules: &Rules, data: Object) -> Option<Object> {
        let mut data = if rules.target.is_empty() { data } else { target(&rules.target, data) };
        match rules.flatmap_ops() {
            Some(ops) => {
                let mut f = Flat { root: Value::Object(data), closed_up: false };
                for op in &ops {
                    match op {
                        Op::Del(paths) => {
                            for p in paths {
                                let segs: Vec<&str> = p.split('.').collect();
                                f.check_indices(&segs)?;
                                f.del(&segs)?;
                            }
                        }
                        Op::Move(a, b) => {
                            let (src, dst): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
                            if src.len() != dst.len() || src.last() == Some(&"*") {
                                return None;
                            }
                            f.check_indices(&src)?;
                            let new = dst[dst.len() - 1];
                            rename(&mut f.root, &src, new)?;
                        }
                        Op::Append(a, b) => f.append(a, b)?,
                        Op::Nothing => {}
                    }
                }
                data = match f.root {
                    Value::Object(o) => o,
                    _ => Object::new(),
                };
            }
            None => {
                if !data.is_empty() {
                    if !rules.allow.is_empty() {
                        data = allow(&rules.allow, data);
                    } else if !rules.deny.is_empty() {
                        deny(&rules.deny, &mut data);
                    }
                }
                if !data.is_empty() {
                    for (old, new) in &rules.mapping {
                        let new = new.split('.').next().unwrap_or("");
                        if let Some(v) = data.get(old).cloned() {
                            data.insert(new.to_owned(), v);
                            data.remove(old);
                        }
                    }
                }
            }
        }
        Some(if rules.group.is_empty() {
            data
        } else {
            let mut wrapped = Object::new();
            wrapped.insert(rules.group.clone(), Value::Object(data));
            wrapped
        })
    }

    /// `target`: walk objects; a missing step or a non-object gives `{}`.
    fn target(path: &str, data: Object) -> Object {
        let mut current = Value::Object(data);
        for step in path.split('.') {
            current = match current {
                Value::Object(mut o) => match o.remove(step) {
                    Some(v @ Value::Object(_)) => v,
                    _ => return Object::new(),
                },
                _ => return Object::new(),
            };
        }
        match current {
            Value::Object(o) => o,
            _ => Object::new(),
        }
    }

    /// A node of the allow tree: `None` is a leaf (keep the whole value).
    #[derive(Debug, Default)]
    struct Allowed(std::collections::BTreeMap<String, Option<Allowed>>);

    /// `allow`: keeps only the listed paths.
    fn allow(paths: &[String], data: Object) -> Object {
        let mut tree = Allowed::default();
        for p in paths {
            let segs: Vec<&str> = p.split('.').collect();
            let mut node = &mut tree;
            for (i, s) in segs.iter().enumerate() {
                if i + 1 == segs.len() {
                    node.0.insert((*s).to_owned(), None);
                } else {
                    let slot = node.0.entry((*s).to_owned()).or_insert(None);
                    if slot.is_none() {
                        *slot = Some(Allowed::default());
                    }
                    node = slot.as_mut().expect("just set");
                }
            }
        }
        keep(&tree, data)
    }

    fn keep(tree: &Allowed, data: Object) -> Object {
        let mut out = Object::new();
        for (k, v) in data {
            match tree.0.get(&k) {
                None => {}
                Some(None) => {
                    out.insert(k, v);
                }
                Some(Some(children)) => {
                    if let Value::Object(inner) = v {
                        let kept = keep(children, inner);
                        if !kept.is_empty() {
                            out.insert(k, Value::Object(kept));
                        }
                    }
                }
            }
        }
        out
    }

    /// `deny`: each path deletes its key where the whole prefix is objects; a shorter
    /// path deletes everything under it, so the order of entries does not matter.
    fn deny(paths: &[String], data: &mut Object) {
        for p in paths {
            let segs: Vec<&str> = p.split('.').collect();
            deny_one(&segs, data);
        }
    }

    fn deny_one(segs: &[&str], data: &mut Object) {
        match segs {
            [] => {}
            [last] => {
                data.remove(*last);
            }
            [first, rest @ ..] => {
                if let Some(Value::Object(inner)) = data.get_mut(*first) {
                    deny_one(rest, inner);
                }
            }
        }
    }

    /// The array index a segment names: a canonical decimal (`0`, `12`, never `01`).
    fn index_of(seg: &str) -> Option<usize> {
        let canonical =
            seg == "0" || (!seg.is_empty() && !seg.starts_with('0') && seg.bytes().all(|b| b.is_ascii_digit()));
        if canonical { seg.parse().ok() } else { None }
    }

    /// The flatmap state: the data, and whether an array lost an element (after which array
    /// indices no longer name positions).
    struct Flat {
        root: Value,
        closed_up: bool,
    }

    impl Flat {
        fn check_indices(&self, segs: &[&str]) -> Option<()> {
            if self.closed_up && segs.iter().any(|s| index_of(s).is_some()) { None } else { Some(()) }
        }

        /// `del`: removes the last segment at every match; a container emptied by it becomes
        /// `null`, and array elements close up.
        fn del(&mut self, segs: &[&str]) -> Option<()> {
            let mut closed = false;
            del(&mut self.root, segs, &mut closed);
            self.closed_up |= closed;
            Some(())
        }

        /// `append src dst`: when both are arrays, `dst` becomes dst's elements then src's, and
        /// `src` is deleted.
        fn append(&mut self, src: &str, dst: &str) -> Option<()> {
            let s: Vec<&str> = src.split('.').collect();
            let d: Vec<&str> = dst.split('.').collect();
            if src.contains('*') || dst.contains('*') {
                return None;
            }
            self.check_indices(&s)?;
            self.check_indices(&d)?;
            let (Some(Value::Array(from)), Some(Value::Array(_))) = (get(&self.root, &s).cloned(), get(&self.root, &d))
            else {
                return Some(());
            };
            // One path inside the other, or both the same: not settled.
            let nested = |a: &[&str], b: &[&str]| a.len() <= b.len() && a == &b[..a.len()];
            if nested(&s, &d) || nested(&d, &s) {
                return None;
            }
            // Deleting `src` may close up an array on the way to `dst`.
            if s.len() <= d.len() && s[..s.len() - 1] == d[..s.len() - 1] && index_of(s[s.len() - 1]).is_some() {
                return None;
            }
            let to = get_mut(&mut self.root, &d)?;
            if let Value::Array(to) = to {
                to.extend(from);
            }
            self.del(&s)
        }
    }

    fn del(node: &mut Value, segs: &[&str], closed: &mut bool) {
        let Some((first, rest)) = segs.split_first() else { return };
        if rest.is_empty() {
            let emptied = match node {
                Value::Object(o) => {
                    let before = o.len();
                    if *first == "*" {
                        o.clear();
                    } else {
                        o.remove(*first);
                    }
                    before > 0 && o.is_empty()
                }
                Value::Array(a) => {
                    let before = a.len();
                    if *first == "*" {
                        a.clear();
                    } else if let Some(i) = index_of(first)
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                    *closed |= a.len() < before;
                    before > 0 && a.is_empty()
                }
                _ => false,
            };
            if emptied {
                *node = Value::Null;
            }
            return;
        }
        match node {
            Value::Object(o) => {
                if *first == "*" {
                    o.values_mut().for_each(|c| del(c, rest, closed));
                } else if let Some(child) = o.get_mut(*first) {
                    del(child, rest, closed);
                }
            }
            Value::Array(a) => {
                if *first == "*" {
                    a.iter_mut().for_each(|c| del(c, rest, closed));
                } else if let Some(child) = index_of(first).and_then(|i| a.get_mut(i)) {
                    del(child, rest, closed);
                }
            }
            _ => {}
        }
    }

    /// `move` with as many segments in `dst` as in `src`: renames the last segment of every
    /// match to `new`; `None` when that key exists already.
    fn rename(node: &mut Value, segs: &[&str], new: &str) -> Option<()> {
        let Some((first, rest)) = segs.split_first() else { return Some(()) };
        if rest.is_empty() {
            match node {
                Value::Object(o) if *first != new && o.contains_key(*first) => {
                    if o.contains_key(new) {
                        return None;
                    }
                    let v = o.remove(*first)?;
                    o.insert(new.to_owned(), v);
                }
                // Renaming an array element: not settled.
                Value::Array(a) if index_of(first).is_some_and(|i| i < a.len()) => return None,
                _ => {}
            }
            return Some(());
        }
        match node {
            Value::Object(o) => {
                if *first == "*" {
                    for c in o.values_mut() {
                        rename(c, rest, new)?;
                    }
                } else if let Some(child) = o.get_mut(*first) {
                    rename(child, rest, new)?;
                }
            }
            Value::Array(a) => {
                if *first == "*" {
                    for c in a.iter_mut() {
                        rename(c, rest, new)?;
                    }
                } else if let Some(child) = index_of(first).and_then(|i| a.get_mut(i)) {
                    rename(child, rest, new)?;
                }
            }
            _ => {}
        }
        Some(())
    }

    fn get<'a>(node: &'a Value, segs: &[&str]) -> Option<&'a Value> {
        let mut current = node;
        for s in segs {
            current = match current {
                Value::Object(o) => o.get(*s)?,
                Value::Array(a) => a.get(index_of(s)?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    fn get_mut<'a>(node: &'a mut Value, segs: &[&str]) -> Option<&'a mut Value> {
        let mut current = node;
        for s in segs {
            current = match current {
                Value::Object(o) => o.get_mut(*s)?,
                Value::Array(a) => a.get_mut(index_of(s)?)?,
                _ => return None,
            };
        }
        Some(current)
    }
}

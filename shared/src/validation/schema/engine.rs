//! The JSON-schema engine behind `validation/json-schema`: the one file that names the `boon`
//! crate. It compiles a schema (draft 7 unless `$schema` says otherwise, `format` asserted, no
//! remote or file `$ref` loaded) and words each violation of a value as gojsonschema does
//! (`field: description`), so that the crate can be swapped without touching the pipeline.

use serde_json::Value;
use std::fmt::Write as _;

/// Where a schema given inline lives for the engine: `$ref`s to other documents resolve against
/// it, and the loader refuses them all.
const BASE: &str = "http://tributary.invalid/schema.json";

/// A compiled schema.
pub(crate) struct Compiled {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
    /// The schema as written: gojsonschema lists a `type` array in the schema's order.
    source: Value,
}

/// Why a schema does not compile: where inside the schema (JSON-pointer tokens, empty for the
/// schema itself) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SchemaError {
    pub at: Vec<String>,
    pub message: String,
}

/// Refuses every document but the schema itself (the standard meta-schemas are built in):
/// KrakenD would fetch remote and file `$ref`s at start-up; Tributary reads nothing from
/// elsewhere.
struct NoLoader;

impl boon::UrlLoader for NoLoader {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("`{}` is not loaded: remote and file schemas are not supported", shown_url(url)).into())
    }
}

/// Compiles `schema` once, for every request of its endpoint.
pub(crate) fn compile(schema: &Value) -> Result<Compiled, SchemaError> {
    let mut compiler = boon::Compiler::new();
    // gojsonschema's default ("hybrid" of drafts 4, 6 and 7) is closest to draft 7.
    compiler.set_default_draft(boon::Draft::V7);
    compiler.enable_format_assertions();
    compiler.use_loader(Box::new(NoLoader));
    let mut schemas = boon::Schemas::new();
    let mut source = schema.clone();
    if source.get("$schema").is_none() {
        draft4_exclusive_bounds(&mut source);
    }
    if let Err(e) = compiler.add_resource(BASE, source.clone()) {
        return Err(schema_error(&e, schema));
    }
    match compiler.compile(BASE, &mut schemas) {
        Ok(index) => Ok(Compiled { schemas, index, source }),
        Err(e) => Err(schema_error(&e, schema)),
    }
}

/// gojsonschema reads a schema without `$schema` as drafts 4, 6 and 7 at once, so draft 4's
/// boolean `exclusiveMinimum`/`exclusiveMaximum` (which turn `minimum`/`maximum` exclusive)
/// work there too: they are rewritten into draft 7's numeric form. Only a schema object has a
/// number under `minimum`/`maximum`, so property names are never taken for keywords.
fn draft4_exclusive_bounds(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (bound, exclusive) in [("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")] {
                if let (Some(Value::Number(_)), Some(Value::Bool(on))) = (map.get(bound), map.get(exclusive)) {
                    let on = *on;
                    map.remove(exclusive);
                    if on && let Some(n) = map.remove(bound) {
                        map.insert(exclusive.to_owned(), n);
                    }
                }
            }
            map.values_mut().for_each(draft4_exclusive_bounds);
        }
        Value::Array(items) => items.iter_mut().for_each(draft4_exclusive_bounds),
        _ => {}
    }
}

impl Compiled {
    /// `value`'s violations of the schema, each as gojsonschema words it (`field: description`),
    /// in the order the engine finds them; empty when the value is valid.
    pub(crate) fn violations(&self, value: &Value) -> Vec<String> {
        match self.schemas.validate(value, self.index) {
            Ok(()) => Vec::new(),
            Err(e) => {
                let mut out = Vec::new();
                Words { root: value, schema: &self.source }.of(&e, false, &mut out);
                if out.is_empty() {
                    // Never silent: a refusal always says something.
                    out.push(format!("{}: {}", field(&e.instance_location), e.kind));
                }
                out
            }
        }
    }
}

/// The schema error's place in the schema and its text.
fn schema_error(e: &boon::CompileError, schema: &Value) -> SchemaError {
    use boon::CompileError as C;
    match e {
        C::ValidationError { src, .. } => {
            let leaf = first_leaf(src);
            let at = leaf.instance_location.tokens.iter().map(token_text).collect();
            let message = match &leaf.kind {
                boon::ErrorKind::Format { got, want: "regex", err } => {
                    let why = last_line(&err.to_string());
                    let why = why.strip_prefix("error: ").unwrap_or(&why);
                    match got.as_ref() {
                        Value::String(pattern) => format!("`{pattern}` is not a valid regular expression: {why}"),
                        other => format!("{other} is not a valid regular expression: {why}"),
                    }
                }
                kind => format!("not a valid JSON schema: {}", last_line(&kind.to_string())),
            };
            SchemaError { at, message }
        }
        C::InvalidRegex { url, regex, .. } => {
            SchemaError { at: pointer_tokens(url), message: format!("`{regex}` is not a valid regular expression") }
        }
        C::LoadUrlError { url, .. } | C::UnsupportedUrlScheme { url } => {
            let shown = shown_url(url);
            let (at, key) = match naming(schema, "$ref", |r| !r.starts_with('#') && shown.starts_with(document(r))) {
                Some(at) => (at, "$ref"),
                None => (naming(schema, "$schema", |r| shown.starts_with(document(r))).unwrap_or_default(), "$schema"),
            };
            SchemaError {
                at,
                message: format!(
                    "`{key}` to `{shown}`: remote and file schemas are not loaded (KrakenD would fetch them); put the definitions inside the schema"
                ),
            }
        }
        C::JsonPointerNotFound(url) | C::AnchorNotFound { reference: url, .. } => {
            let target = url.rsplit_once('#').map_or("", |(_, frag)| frag);
            SchemaError {
                at: naming(schema, "$ref", |r| r.strip_prefix('#') == Some(target)).unwrap_or_default(),
                message: format!("`$ref` to `#{target}`: nothing in the schema at that place"),
            }
        }
        other => SchemaError { at: Vec::new(), message: last_line(&format!("{other:#}").replace(BASE, "")) },
    }
}

/// The deepest first error of a tree (the most precise place).
fn first_leaf<'a, 's, 'v>(e: &'a boon::ValidationError<'s, 'v>) -> &'a boon::ValidationError<'s, 'v> {
    match e.causes.first() {
        Some(c) => first_leaf(c),
        None => e,
    }
}

/// A URL as the user wrote it: relative to the inline schema when it resolves there.
fn shown_url(url: &str) -> String {
    let base_dir = &BASE[..BASE.rfind('/').map_or(0, |i| i + 1)];
    url.strip_prefix(base_dir).unwrap_or(url).to_owned()
}

/// The tokens of a URL's fragment (`…#/properties/a/pattern`).
fn pointer_tokens(url: &str) -> Vec<String> {
    let Some((_, frag)) = url.split_once('#') else { return Vec::new() };
    let frag = percent_encoding::percent_decode_str(frag).decode_utf8_lossy();
    frag.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect()
}

/// Where the schema holds `key` (`$ref`, `$schema`) with a string value that `wanted` accepts
/// (the first one, depth first).
fn naming(schema: &Value, key: &str, wanted: impl Fn(&str) -> bool) -> Option<Vec<String>> {
    fn walk(v: &Value, key: &str, wanted: &dyn Fn(&str) -> bool, path: &mut Vec<String>) -> bool {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get(key)
                    && wanted(r)
                {
                    path.push(key.to_owned());
                    return true;
                }
                for (k, child) in map {
                    path.push(k.clone());
                    if walk(child, key, wanted, path) {
                        return true;
                    }
                    path.pop();
                }
                false
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(i.to_string());
                    if walk(child, key, wanted, path) {
                        return true;
                    }
                    path.pop();
                }
                false
            }
            _ => false,
        }
    }
    let mut path = Vec::new();
    walk(schema, key, &wanted, &mut path).then_some(path)
}

/// A reference without its fragment.
fn document(reference: &str) -> &str {
    reference.split('#').next().unwrap_or_default()
}

/// The last line of a text (an engine's message may hold a diagram above it).
fn last_line(text: &str) -> String {
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default().to_owned()
}

fn token_text(t: &boon::InstanceToken<'_>) -> String {
    match t {
        boon::InstanceToken::Prop(p) => p.to_string(),
        boon::InstanceToken::Item(i) => i.to_string(),
    }
}

/// gojsonschema's field: the path below the root joined with dots, `(root)` for the root.
fn field(at: &boon::InstanceLocation<'_>) -> String {
    if at.tokens.is_empty() {
        return "(root)".to_owned();
    }
    let parts: Vec<String> = at.tokens.iter().map(token_text).collect();
    parts.join(".")
}

/// One line: the field, then the description.
fn line(at: &boon::InstanceLocation<'_>, description: impl std::fmt::Display) -> String {
    format!("{}: {description}", field(at))
}

/// The schema keyword a failing subschema sits under (`allOf`, `then`, `else`), read from the
/// end of its location.
fn under(schema_url: &str) -> Option<&'static str> {
    let frag = schema_url.split_once('#')?.1;
    let mut rev = frag.rsplit('/');
    match rev.next()? {
        "then" => Some("then"),
        "else" => Some("else"),
        n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => (rev.next()? == "allOf").then_some("allOf"),
        _ => None,
    }
}

const ALL_OF: &str = "Must validate all the schemas (allOf)";

/// What the lines are written from: the validated value and the schema as written.
struct Words<'a> {
    root: &'a Value,
    schema: &'a Value,
}

impl Words<'_> {
    /// Appends `e`'s lines, in gojsonschema's words for each keyword, to `out`. `marked`: the
    /// caller already wrote the line of the `allOf`/`then`/`else` branch `e` comes from.
    fn of(&self, e: &boon::ValidationError<'_, '_>, marked: bool, out: &mut Vec<String>) {
        use boon::ErrorKind as K;
        let at = &e.instance_location;
        // The engine does not wrap a failing `then`/`else` branch nor a lone failing `allOf`
        // branch: where the failure sits in the schema tells, and gojsonschema writes a line
        // for it (before the branch's errors for `then`/`else`, after them for `allOf`).
        let marker = if marked { None } else { under(e.schema_url) };
        match marker {
            Some("then") => out.push(line(at, "Must validate \"then\" as \"if\" was valid")),
            Some("else") => out.push(line(at, "Must validate \"else\" as \"if\" was not valid")),
            _ => {}
        }
        let all = |out: &mut Vec<String>, marked: bool| {
            for c in &e.causes {
                self.of(c, marked, out);
            }
        };
        match &e.kind {
            // Several errors of one schema: each cause shares its place (and its branch).
            K::Group => all(out, marked || marker.is_some()),
            K::Schema { .. } | K::Reference { .. } => all(out, false),
            K::AllOf => {
                all(out, true);
                out.push(line(at, ALL_OF));
            }
            K::AnyOf => {
                out.push(line(at, "Must validate at least one schema (anyOf)"));
                self.closest(&e.causes, out);
            }
            K::OneOf(None) => {
                out.push(line(at, "Must validate one and only one schema (oneOf)"));
                self.closest(&e.causes, out);
            }
            K::OneOf(Some(_)) => out.push(line(at, "Must validate one and only one schema (oneOf)")),
            K::Not => out.push(line(at, "Must not validate the schema (not)")),
            K::FalseSchema => out.push(line(at, "False always fails validation")),
            K::Type { got, want } => {
                let given = match (got, value_at(self.root, at)) {
                    (boon::Type::Number, Some(Value::Number(n))) if is_integer(n) => "integer".to_owned(),
                    (other, _) => other.to_string(),
                };
                let names = match self.written_types(e.schema_url) {
                    Some(names) => names,
                    None => want.iter().map(|t| t.to_string()).collect(),
                };
                let expected = if names.len() == 1 { names[0].clone() } else { format!("[{}]", names.join(",")) };
                out.push(line(at, format_args!("Invalid type. Expected: {expected}, given: {given}")));
            }
            K::Required { want } => {
                for p in want {
                    out.push(line(at, format_args!("{p} is required")));
                }
            }
            K::AdditionalProperties { got } => {
                for p in got {
                    out.push(line(at, format_args!("Additional property {p} is not allowed")));
                }
            }
            K::Enum { want } => {
                let allowed: Vec<String> = want.iter().map(go_json).collect();
                out.push(line(at, format_args!("{} must be one of the following: {}", field(at), allowed.join(", "))));
            }
            K::Const { want } => out.push(line(at, format_args!("{} does not match: {}", field(at), go_json(want)))),
            K::Format { want, .. } => out.push(line(at, format_args!("Does not match format '{want}'"))),
            K::MinProperties { want, .. } => out.push(line(at, format_args!("Must have at least {want} properties"))),
            K::MaxProperties { want, .. } => out.push(line(at, format_args!("Must have at most {want} properties"))),
            K::Dependency { missing, .. } | K::DependentRequired { missing, .. } => {
                for m in missing {
                    out.push(line(at, format_args!("Has a dependency on {m}")));
                }
            }
            K::PropertyName { prop } => {
                out.push(line(at, format_args!("Property name of \"{prop}\" does not match")));
                all(out, false);
            }
            K::MinItems { want, .. } => out.push(line(at, format_args!("Array must have at least {want} items"))),
            K::MaxItems { want, .. } => out.push(line(at, format_args!("Array must have at most {want} items"))),
            K::UniqueItems { got: [i, j] } => out.push(line(at, format_args!("array items[{i},{j}] must be unique"))),
            K::AdditionalItems { .. } => out.push(line(at, "No additional items allowed on array")),
            K::Contains | K::MinContains { .. } | K::MaxContains { .. } => {
                out.push(line(at, "At least one of the items must match"));
            }
            K::MinLength { want, .. } => {
                out.push(line(at, format_args!("String length must be greater than or equal to {want}")));
            }
            K::MaxLength { want, .. } => {
                out.push(line(at, format_args!("String length must be less than or equal to {want}")));
            }
            K::Pattern { want, .. } => out.push(line(at, format_args!("Does not match pattern '{want}'"))),
            K::Minimum { want, .. } => {
                out.push(line(at, format_args!("Must be greater than or equal to {}", go_number(want))));
            }
            K::Maximum { want, .. } => {
                out.push(line(at, format_args!("Must be less than or equal to {}", go_number(want))))
            }
            K::ExclusiveMinimum { want, .. } => {
                out.push(line(at, format_args!("Must be greater than {}", go_number(want))))
            }
            K::ExclusiveMaximum { want, .. } => {
                out.push(line(at, format_args!("Must be less than {}", go_number(want))))
            }
            K::MultipleOf { want, .. } => out.push(line(at, format_args!("Must be a multiple of {}", go_number(want)))),
            // Keywords gojsonschema does not know (content*, 2019-09 and later): the engine's words.
            other => out.push(line(at, other)),
        }
        if marker == Some("allOf") {
            out.push(line(at, ALL_OF));
        }
    }

    /// gojsonschema follows a failed `anyOf`/`oneOf` with the errors of the branch that came
    /// closest (that passed the most checks); here, a branch whose type matched before one whose
    /// type did not, then the one with the fewest errors, then the first.
    fn closest(&self, causes: &[boon::ValidationError<'_, '_>], out: &mut Vec<String>) {
        let best = causes
            .iter()
            .map(|c| {
                let mut lines = Vec::new();
                self.of(c, false, &mut lines);
                (matches!(c.kind, boon::ErrorKind::Type { .. }), lines)
            })
            .min_by_key(|(type_missed, lines)| (*type_missed, lines.len()));
        out.extend(best.map(|(_, lines)| lines).unwrap_or_default());
    }

    /// The `type` list of the schema at `schema_url`, in the order it was written.
    fn written_types(&self, schema_url: &str) -> Option<Vec<String>> {
        let pointer = schema_url.strip_prefix(BASE)?.strip_prefix('#')?;
        let pointer = percent_encoding::percent_decode_str(pointer).decode_utf8().ok()?;
        match self.schema.pointer(&pointer)?.get("type")? {
            Value::Array(names) => names.iter().map(|n| n.as_str().map(str::to_owned)).collect(),
            _ => None,
        }
    }
}

/// The value at `at` in `root`.
fn value_at<'v>(root: &'v Value, at: &boon::InstanceLocation<'_>) -> Option<&'v Value> {
    at.tokens.iter().try_fold(root, |v, t| match t {
        boon::InstanceToken::Prop(p) => v.get(p.as_ref()),
        boon::InstanceToken::Item(i) => v.get(*i),
    })
}

/// Whether a number is an integer as gojsonschema decides (`1.0` is one).
fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// A value as gojsonschema shows an allowed `enum`/`const` value: `json.Marshal` of the value
/// decoded without `UseNumber` (numbers as float64, keys sorted).
fn go_json(v: &Value) -> String {
    match v {
        Value::Number(n) => go_float(n.as_f64().unwrap_or(0.0), 'f'),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_json).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut s = String::from("{");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&String::from_utf8_lossy(&crate::codec::json::encode(&Value::String(k.clone()))));
                s.push(':');
                s.push_str(&go_json(&map[k]));
            }
            s.push('}');
            s
        }
        other => String::from_utf8_lossy(&crate::codec::json::encode(other)).into_owned(),
    }
}

/// A schema bound as gojsonschema prints it (a `big.Float` through `%v`).
fn go_number(n: &serde_json::Number) -> String {
    go_float(n.as_f64().unwrap_or(0.0), 'g')
}

/// Go's shortest formatting of a number: `'g'` as `%v` prints a `big.Float` (exponent form when
/// the exponent is below -4 or at least 6: `1e+06`), `'f'` as `json.Marshal` prints a float64
/// (exponent form below 1e-6 and from 1e21: `1e-07`, `1e+21`).
fn go_float(f: f64, style: char) -> String {
    if f == 0.0 {
        return "0".to_owned();
    }
    // Rust's `{:e}` gives the shortest digits that read back the same: `1.2345e6`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let exponent_form = match style {
        'g' => !(-4..6).contains(&exp),
        _ => !(1e-6..1e21).contains(&f.abs()),
    };
    if !exponent_form {
        let mut s = format!("{f}");
        if s.ends_with(".0") {
            s.truncate(s.len() - 2);
        }
        return s;
    }
    let sign = if exp < 0 { '-' } else { '+' };
    // Go writes at least two exponent digits, but `json.Marshal` trims `e-07` to `e-7`.
    let digits = if style == 'f' && exp < 0 { format!("{}", -exp) } else { format!("{:02}", exp.abs()) };
    let mut s = String::new();
    let _ = write!(s, "{mantissa}e{sign}{digits}");
    s
}

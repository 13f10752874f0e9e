//! One `check_expr` parsed and checked at start-up: the syntax, the names it reads (KrakenD's
//! variables only, and the functions of cel-go's standard library that Tributary has), and the
//! literal patterns of its `matches` calls, compiled here once.

use super::Vars;
use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};
use cel::parser::PrattParser;
use regex_lite::Regex;

/// Largest compiled `matches` pattern (regex-lite's size limit): bounds what one pattern costs.
pub(super) const PATTERN_SIZE_LIMIT: usize = 1 << 20;
/// Deepest nesting of groups in a `matches` pattern.
const PATTERN_NEST_LIMIT: u32 = 100;
/// Most nodes in one expression's tree: a config can't make the gateway build a huge program.
const MAX_NODES: usize = 10_000;

/// Functions and member functions of cel-go's standard library (what krakend-cel's environment
/// declares, less the timestamp and duration ones), as cel-rust names them; operators are
/// recognised by their `_`/`@`/`!`/`-` spelling. The macros (`has`, `all`, `exists`,
/// `exists_one`, `map`, `filter`) are expanded by the parser and never reach here.
const FUNCTIONS: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "dyn",
    "type",
];

/// cel-go's timestamp and duration functions: Tributary is built without them.
const TIME_FUNCTIONS: &[&str] = &[
    "timestamp",
    "duration",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// A compiled `matches` pattern.
#[derive(Debug, Clone)]
pub(super) enum Pattern {
    /// No metacharacter: an unanchored match is a substring search.
    Literal(String),
    Regex(Regex),
}

impl Pattern {
    pub(super) fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Literal(l) => text.contains(l.as_str()),
            Pattern::Regex(re) => re.is_match(text),
        }
    }
}

/// Which entries of a map variable an expression reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fields {
    /// Only these keys, each named literally (`JWT.sub`, `has(JWT.sub)`, `req_headers['X-A']`).
    Only(Vec<String>),
    /// Any: the map is used as a whole (`size(JWT)`, `'a' in JWT`, `JWT[key]`, `JWT == {}`).
    All,
}

impl Default for Fields {
    fn default() -> Self {
        Fields::Only(Vec::new())
    }
}

impl Fields {
    fn add(&mut self, key: &str) {
        if let Fields::Only(keys) = self
            && !keys.iter().any(|k| k == key)
        {
            keys.push(key.to_owned());
        }
    }

    /// Everything `self` or `other` reads.
    pub(super) fn union(&mut self, other: &Fields) {
        match other {
            Fields::All => *self = Fields::All,
            Fields::Only(keys) => keys.iter().for_each(|k| self.add(k)),
        }
    }

    pub(super) fn wants(&self, key: &str) -> bool {
        match self {
            Fields::All => true,
            Fields::Only(keys) => keys.iter().any(|k| k == key),
        }
    }
}

/// The map variables whose entries are converted only when read: a check on one claim does not
/// convert the whole token, nor one on a header every header.
pub(super) const MAPS: [Vars; 5] =
    [Vars::JWT, Vars::RESP_DATA, Vars::REQ_HEADERS, Vars::REQ_QUERYSTRING, Vars::RESP_METADATA_HEADERS];

/// A parsed expression with what it reads.
pub(super) struct Parsed {
    pub expr: IdedExpr,
    pub vars: Vars,
    /// For each of [`MAPS`], the entries it reads.
    pub fields: [Fields; 5],
    /// The literal patterns of its `matches` calls, compiled.
    pub patterns: Vec<(String, Pattern)>,
    /// Whether it calls `matches` at all (with a literal pattern or not).
    pub uses_matches: bool,
}

/// Compiles a `matches` pattern with the engine's limits (RE2 syntax, linear time). One without
/// metacharacters is searched as a substring: the regex engine would only be slower at it.
pub(super) fn pattern(src: &str) -> Result<Pattern, regex_lite::Error> {
    if !src.contains(['\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$']) {
        return Ok(Pattern::Literal(src.to_owned()));
    }
    regex_lite::RegexBuilder::new(src)
        .size_limit(PATTERN_SIZE_LIMIT)
        .nest_limit(PATTERN_NEST_LIMIT)
        .build()
        .map(Pattern::Regex)
}

/// Parses `src` and checks the names it uses. `Err` is the message for the config error.
pub(super) fn parse(src: &str) -> Result<Parsed, String> {
    if src.trim().is_empty() {
        return Err("empty expression".to_owned());
    }
    let expr = PrattParser::new()
        .max_expression_node_count(MAX_NODES)
        .parse(src)
        .map_err(|e| format!("syntax error: {}", e.to_string().replace('\n', "; ")))?;
    let mut walk = Walk {
        bound: Vec::new(),
        vars: Vars::default(),
        fields: Default::default(),
        patterns: Vec::new(),
        uses_matches: false,
    };
    walk.expr(&expr)?;
    Ok(Parsed { expr, vars: walk.vars, fields: walk.fields, patterns: walk.patterns, uses_matches: walk.uses_matches })
}

struct Walk {
    /// Names bound by the comprehensions (macros) around the node being walked.
    bound: Vec<String>,
    vars: Vars,
    fields: [Fields; 5],
    patterns: Vec<(String, Pattern)>,
    uses_matches: bool,
}

impl Walk {
    fn expr(&mut self, e: &IdedExpr) -> Result<(), String> {
        match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => Ok(()),
            Expr::Ident(name) => {
                self.ident(name)?;
                if let Some(i) = self.map_var(name) {
                    self.fields[i] = Fields::All;
                }
                Ok(())
            }
            Expr::Select(s) => match &s.operand.expr {
                Expr::Ident(name) if self.map_var(name).is_some() => {
                    self.ident(name)?;
                    if let Some(i) = self.map_var(name) {
                        self.fields[i].add(&s.field);
                    }
                    Ok(())
                }
                _ => self.expr(&s.operand),
            },
            Expr::Call(call)
                if call.func_name == "_[_]"
                    && call.target.is_none()
                    && let [
                        IdedExpr { expr: Expr::Ident(name), .. },
                        IdedExpr { expr: Expr::Literal(LiteralValue::String(key)), .. },
                    ] = call.args.as_slice()
                    && self.map_var(name).is_some() =>
            {
                self.ident(name)?;
                if let Some(i) = self.map_var(name) {
                    self.fields[i].add(key.inner());
                }
                Ok(())
            }
            Expr::List(l) => l.elements.iter().try_for_each(|x| self.expr(x)),
            Expr::Map(m) => m.entries.iter().try_for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(me) => {
                    self.expr(&me.key)?;
                    self.expr(&me.value)
                }
                EntryExpr::StructField(f) => self.expr(&f.value),
            }),
            Expr::Struct(s) => Err(format!("undeclared type `{}`: krakend-cel declares no message types", s.type_name)),
            Expr::Call(call) => {
                self.function(&call.func_name)?;
                if call.func_name == "matches" {
                    self.uses_matches = true;
                    let pattern_arg = if call.target.is_some() { call.args.first() } else { call.args.get(1) };
                    if let Some(IdedExpr { expr: Expr::Literal(LiteralValue::String(p)), .. }) = pattern_arg {
                        let p = p.inner();
                        if !self.patterns.iter().any(|(known, _)| known == p) {
                            let re =
                                pattern(p).map_err(|e| format!("`matches` pattern `{p}` does not compile: {e}"))?;
                            self.patterns.push((p.to_owned(), re));
                        }
                    }
                }
                if let Some(t) = &call.target {
                    self.expr(t)?;
                }
                call.args.iter().try_for_each(|a| self.expr(a))
            }
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range)?;
                self.expr(&c.accu_init)?;
                let before = self.bound.len();
                self.bound.push(c.iter_var.clone());
                if let Some(v2) = &c.iter_var2 {
                    self.bound.push(v2.clone());
                }
                self.bound.push(c.accu_var.clone());
                let inner = [&c.loop_cond, &c.loop_step, &c.result].into_iter().try_for_each(|x| self.expr(x));
                self.bound.truncate(before);
                inner
            }
        }
    }

    /// The index in [`MAPS`] of the map variable `name` names, unless a macro rebinds it.
    fn map_var(&self, name: &str) -> Option<usize> {
        if self.bound.iter().any(|b| b == name) {
            return None;
        }
        let v = Vars::named(name)?;
        MAPS.iter().position(|m| *m == v)
    }

    fn ident(&mut self, name: &str) -> Result<(), String> {
        if self.bound.iter().any(|b| b == name) {
            return Ok(());
        }
        match Vars::named(name) {
            Some(v) => {
                self.vars = self.vars.with(v);
                Ok(())
            }
            // `int`, `string`... as values (`type(x) == int`) are type names, not variables.
            None if ["int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"]
                .contains(&name) =>
            {
                Ok(())
            }
            None => Err(format!(
                "undeclared reference to `{name}` (the variables are req_method, req_path, req_params, req_headers, req_querystring, resp_data, resp_completed, resp_metadata_status, resp_metadata_headers, JWT and now)"
            )),
        }
    }

    fn function(&self, name: &str) -> Result<(), String> {
        if name.starts_with(['_', '@', '!', '-']) || FUNCTIONS.contains(&name) {
            return Ok(());
        }
        if TIME_FUNCTIONS.contains(&name) {
            return Err(format!(
                "`{name}`: Tributary has no timestamp or duration functions (compare `now` as a string instead)"
            ));
        }
        Err(format!("undeclared function `{name}` (krakend-cel has cel-go's standard library only)"))
    }
}

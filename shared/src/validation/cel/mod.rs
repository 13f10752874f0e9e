//! `validation/cel` (krakend-cel): the `check_expr` lists of an endpoint or a backend, compiled
//! once, and their verdicts on a request, a response or a token's claims.
//!
//! As krakend-cel sorts them (`parseByKey`, a substring test on the source): an expression whose
//! text contains `req` runs on the request, `resp` on the response, `JWT` on a validated token's
//! claims (endpoints with `auth/validator` only); one may land in several lists, or in none (then
//! it never runs). A list runs in order; the first expression that is not `true` (false, not a
//! bool, or failing: a missing key, a type mismatch, a division by zero) refuses, and the refusal
//! names its place in its list: `request aborted by evaluator #N`.

mod compile;
mod values;

#[cfg(test)]
mod tests;

use crate::config::{CelCheckConfig, Problem};
use crate::message::canonical;
use cel::common::ast::IdedExpr;
use cel::common::types::CelBool;
use cel::common::value::CowVal;
use cel::{Context, Env, ExecutionError, FunctionContext, Value as CelValue};
use compile::{Fields, MAPS, Pattern};
use http::{HeaderMap, HeaderName};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use values::Numbers;

/// The variables krakend-cel declares, as a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Vars(u16);

impl Vars {
    const REQ_METHOD: Vars = Vars(1);
    const REQ_PATH: Vars = Vars(1 << 1);
    const REQ_PARAMS: Vars = Vars(1 << 2);
    const REQ_HEADERS: Vars = Vars(1 << 3);
    const REQ_QUERYSTRING: Vars = Vars(1 << 4);
    const RESP_DATA: Vars = Vars(1 << 5);
    const RESP_COMPLETED: Vars = Vars(1 << 6);
    const RESP_METADATA_STATUS: Vars = Vars(1 << 7);
    const RESP_METADATA_HEADERS: Vars = Vars(1 << 8);
    const JWT: Vars = Vars(1 << 9);
    const NOW: Vars = Vars(1 << 10);

    const NAMES: [(&'static str, Vars); 11] = [
        ("req_method", Vars::REQ_METHOD),
        ("req_path", Vars::REQ_PATH),
        ("req_params", Vars::REQ_PARAMS),
        ("req_headers", Vars::REQ_HEADERS),
        ("req_querystring", Vars::REQ_QUERYSTRING),
        ("resp_data", Vars::RESP_DATA),
        ("resp_completed", Vars::RESP_COMPLETED),
        ("resp_metadata_status", Vars::RESP_METADATA_STATUS),
        ("resp_metadata_headers", Vars::RESP_METADATA_HEADERS),
        ("JWT", Vars::JWT),
        ("now", Vars::NOW),
    ];

    fn named(name: &str) -> Option<Vars> {
        Vars::NAMES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn with(self, other: Vars) -> Vars {
        Vars(self.0 | other.0)
    }

    fn has(self, other: Vars) -> bool {
        self.0 & other.0 != 0
    }
}

/// Where a list is declared: what KrakenD evaluates there.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Level {
    /// An endpoint; `with_token`: it has `auth/validator`, so its `JWT` expressions run.
    Endpoint {
        with_token: bool,
    },
    Backend,
}

/// One compiled list of one endpoint or backend.
pub(crate) struct CelRules {
    request: Phase,
    response: Phase,
    token: Phase,
    /// Path parameter keys as krakend sees them (`{id}` is `Id`), in the endpoint's order.
    param_keys: Vec<String>,
    /// Header names as written in `input_headers`, which is how lura keys them.
    header_keys: Vec<(HeaderName, String)>,
    /// The standard library, built at start-up rather than by the first request.
    env: Arc<Env>,
}

/// The expressions of one list (request, response or token), in config order.
#[derive(Default)]
struct Phase {
    checks: Vec<IdedExpr>,
    /// Every variable one of them reads: only these are built for an evaluation.
    vars: Vars,
    /// For each of [`MAPS`], the entries they read: only these are converted.
    fields: [Fields; 5],
    /// `Some` when one of them calls `matches`: the literal patterns, compiled.
    patterns: Option<Arc<HashMap<String, Pattern>>>,
}

impl Phase {
    /// The entries read of the map variable `var` (one of [`MAPS`]).
    fn fields_of(&self, var: Vars) -> &Fields {
        let i = MAPS.iter().position(|m| *m == var).unwrap_or_default();
        &self.fields[i]
    }
}

/// A refusal: the expression at `index` of its list was not `true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub index: usize,
    /// Why, for the log: `false`, the value it gave, or its error.
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    /// krakend-cel's error text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request aborted by evaluator #{}", self.index)
    }
}

/// The request as a list sees it (the endpoint's, or the one built for a backend).
pub(crate) struct RequestView<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The path parameters' values, in the endpoint's order.
    pub params: &'a [String],
    /// The headers the proxy request carries (after `input_headers`).
    pub headers: &'a HeaderMap,
    /// The client's query pairs, and which keys the request carries (`input_query_strings`).
    pub query: &'a [(String, String)],
    pub keep_query: &'a dyn Fn(&str) -> bool,
}

/// A response as a list sees it.
pub(crate) struct ResponseView<'a> {
    /// The (formatted or merged) data; `None` reads as an empty map.
    pub data: Option<&'a Map<String, Value>>,
    pub complete: bool,
    /// lura's response metadata: only `no-op` answers carry the backend's status and headers.
    pub status: u16,
    pub headers: Option<&'a HeaderMap>,
}

/// cel-go's standard library (cel-rust's, without timestamps): built once per process.
fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(Env::stdlib())).clone()
}

impl CelRules {
    /// Compiles one `validation/cel` list declared at `at` (its JSON path). Errors (one per bad
    /// expression, naming `at[i].check_expr`) and warnings go to `problems`; `None` when there
    /// was an error. `params` are the endpoint's parameter names; `header_names`, the
    /// `input_headers` that key `req_headers`, most specific first.
    pub(crate) fn compile(
        list: &[CelCheckConfig],
        at: &str,
        endpoint: Option<&str>,
        level: Level,
        params: &[String],
        header_names: &[&[String]],
        problems: &mut Vec<Problem>,
    ) -> Option<CelRules> {
        let mut failed = false;
        let mut rules = CelRules {
            request: Phase::default(),
            response: Phase::default(),
            token: Phase::default(),
            param_keys: params.iter().map(|p| crate::config::capitalised(p)).collect(),
            header_keys: Vec::new(),
            env: env(),
        };
        let mut patterns: [Vec<(String, Pattern)>; 3] = Default::default();
        for (i, item) in list.iter().enumerate() {
            let path = format!("{at}[{i}]");
            if item.mod_expr.is_some() {
                problems.push(Problem::warning(
                    format!("{path}.mod_expr"),
                    endpoint,
                    "accepted but has no effect: KrakenD CE evaluates `check_expr` only",
                ));
            }
            let source = item.check_expr.as_deref().unwrap_or("");
            let parsed = match compile::parse(source) {
                Ok(p) => p,
                Err(msg) => {
                    failed = true;
                    problems.push(Problem::error(format!("{path}.check_expr"), endpoint, msg));
                    continue;
                }
            };
            let token = matches!(level, Level::Endpoint { with_token: true }) && source.contains("JWT");
            let lists = [source.contains("req"), source.contains("resp"), token];
            if !lists.contains(&true) {
                let why = match level {
                    Level::Endpoint { with_token: false } if source.contains("JWT") => {
                        "never evaluated: an expression on `JWT` runs only on endpoints with `auth/validator` (as in KrakenD)"
                    }
                    Level::Backend if source.contains("JWT") => {
                        "never evaluated: an expression on `JWT` runs only on endpoints (as in KrakenD)"
                    }
                    _ => {
                        "never evaluated: KrakenD runs an expression only when its text contains `req`, `resp` or `JWT`"
                    }
                };
                problems.push(Problem::warning(format!("{path}.check_expr"), endpoint, why));
                continue;
            }
            let phases = [&mut rules.request, &mut rules.response, &mut rules.token];
            for ((phase, found), selected) in phases.into_iter().zip(patterns.iter_mut()).zip(lists) {
                if !selected {
                    continue;
                }
                phase.checks.push(parsed.expr.clone());
                phase.vars = phase.vars.with(parsed.vars);
                for (mine, theirs) in phase.fields.iter_mut().zip(&parsed.fields) {
                    mine.union(theirs);
                }
                if parsed.uses_matches {
                    phase.patterns.get_or_insert_with(Default::default);
                    found.extend(parsed.patterns.iter().cloned());
                }
            }
        }
        for (phase, found) in [&mut rules.request, &mut rules.response, &mut rules.token].into_iter().zip(patterns) {
            if phase.patterns.is_some() {
                phase.patterns = Some(Arc::new(found.into_iter().collect()));
            }
        }
        for names in header_names {
            for written in names.iter().map(|h| h.trim()).filter(|h| *h != "*") {
                if let Ok(name) = HeaderName::from_bytes(written.as_bytes())
                    && !rules.header_keys.iter().any(|(n, _)| *n == name)
                {
                    rules.header_keys.push((name, written.to_owned()));
                }
            }
        }
        (!failed).then_some(rules)
    }

    /// Whether a request list exists.
    pub(crate) fn checks_requests(&self) -> bool {
        !self.request.checks.is_empty()
    }

    /// Whether a response list exists.
    pub(crate) fn checks_responses(&self) -> bool {
        !self.response.checks.is_empty()
    }

    /// Whether the response list reads `resp_data` (the caller then hands it a decoded tree).
    pub(crate) fn reads_response_data(&self) -> bool {
        self.response.vars.has(Vars::RESP_DATA)
    }

    /// Whether a token list exists.
    pub(crate) fn checks_tokens(&self) -> bool {
        !self.token.checks.is_empty()
    }

    /// The request list's verdict.
    pub(crate) fn check_request(&self, req: &RequestView<'_>) -> Result<(), Refusal> {
        let phase = &self.request;
        if phase.checks.is_empty() {
            return Ok(());
        }
        let mut ctx = self.context(phase);
        let v = phase.vars;
        if v.has(Vars::REQ_METHOD) {
            ctx.add_variable_as_val("req_method", values::string(req.method));
        }
        if v.has(Vars::REQ_PATH) {
            ctx.add_variable_as_val("req_path", values::string(req.path));
        }
        if v.has(Vars::REQ_PARAMS) {
            ctx.add_variable_as_val("req_params", values::string_map(&self.param_keys, req.params));
        }
        if v.has(Vars::REQ_HEADERS) {
            let fields = phase.fields_of(Vars::REQ_HEADERS);
            ctx.add_variable_as_val("req_headers", values::header_map(req.headers, &|n| self.header_key(n), fields));
        }
        if v.has(Vars::REQ_QUERYSTRING) {
            let fields = phase.fields_of(Vars::REQ_QUERYSTRING);
            ctx.add_variable_as_val("req_querystring", values::query_map(req.query, req.keep_query, fields));
        }
        evaluate(phase, &ctx)
    }

    /// The response list's verdict.
    pub(crate) fn check_response(&self, resp: &ResponseView<'_>) -> Result<(), Refusal> {
        let phase = &self.response;
        if phase.checks.is_empty() {
            return Ok(());
        }
        let mut ctx = self.context(phase);
        let v = phase.vars;
        if v.has(Vars::RESP_DATA) {
            let data = match resp.data {
                Some(map) => Box::new(values::object(map, Numbers::Exact, phase.fields_of(Vars::RESP_DATA))),
                None => values::empty_map(),
            };
            ctx.add_variable_as_val("resp_data", data);
        }
        if v.has(Vars::RESP_COMPLETED) {
            ctx.add_variable_as_val("resp_completed", values::boolean(resp.complete));
        }
        if v.has(Vars::RESP_METADATA_STATUS) {
            ctx.add_variable_as_val("resp_metadata_status", values::int(i64::from(resp.status)));
        }
        if v.has(Vars::RESP_METADATA_HEADERS) {
            let headers = match resp.headers {
                Some(h) => {
                    values::header_map(h, &|n| canonical(n.as_str()), phase.fields_of(Vars::RESP_METADATA_HEADERS))
                }
                None => values::empty_map(),
            };
            ctx.add_variable_as_val("resp_metadata_headers", headers);
        }
        evaluate(phase, &ctx)
    }

    /// The token list's verdict on validated claims (KrakenD answers a refusal with `401`).
    pub(crate) fn check_claims(&self, claims: &Map<String, Value>) -> Result<(), Refusal> {
        let phase = &self.token;
        if phase.checks.is_empty() {
            return Ok(());
        }
        let mut ctx = self.context(phase);
        if phase.vars.has(Vars::JWT) {
            let fields = phase.fields_of(Vars::JWT);
            ctx.add_variable_as_val("JWT", Box::new(values::object(claims, Numbers::Double, fields)));
        }
        evaluate(phase, &ctx)
    }

    /// A context with what every list may read (`now`, `matches`).
    fn context<'a>(&self, phase: &Phase) -> Context<'a, 'a> {
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        if phase.vars.has(Vars::NOW) {
            let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            ctx.add_variable_as_val("now", values::owned_string(values::now_string(since)));
        }
        if let Some(patterns) = &phase.patterns {
            let added = ctx.add_function("matches", matches(Arc::clone(patterns)));
            debug_assert!(added.is_ok(), "the standard library declares no `matches` without cel's `regex` feature");
        }
        ctx
    }

    /// How lura keys a header in `req_headers`: as written in `input_headers`, else canonical.
    fn header_key(&self, name: &HeaderName) -> String {
        match self.header_keys.iter().find(|(n, _)| n == name) {
            Some((_, written)) => written.clone(),
            None => canonical(name.as_str()),
        }
    }
}

/// A function as cel calls it: its arguments evaluated, the target first for a member call.
type Function =
    Box<dyn for<'c, 'k> Fn(&mut FunctionContext<'c, 'k>) -> Result<CowVal<'c, 'k>, ExecutionError> + Send + Sync>;

/// CEL's `matches` (`text.matches(re)` or `matches(text, re)`), which cel has only with its
/// `regex` feature, where it recompiles the pattern on every call: ours reads the patterns
/// compiled at start-up, and compiles any other (one built at run time) with the same limits.
fn matches(patterns: Arc<HashMap<String, Pattern>>) -> Function {
    Box::new(move |ftx| {
        let (text, re) = match &ftx.this {
            Some(this) => (Some(this), ftx.args.first()),
            None => (ftx.args.first(), ftx.args.get(1)),
        };
        let (Some(text), Some(re)) = (text.and_then(string_of), re.and_then(string_of)) else {
            return Err(ExecutionError::function_error("matches", "takes two strings"));
        };
        let found = match patterns.get(re) {
            Some(compiled) => compiled.is_match(text),
            None => compile::pattern(re).map_err(|e| ExecutionError::function_error("matches", e))?.is_match(text),
        };
        Ok(CowVal::owned(CelBool::from(found)))
    })
}

/// The string a value holds, if it is one.
fn string_of<'a>(v: &'a CowVal<'_, '_>) -> Option<&'a str> {
    <&str>::try_from(v.as_ref()).ok()
}

/// Runs a list in order: the first expression that is not `true` refuses.
fn evaluate(phase: &Phase, ctx: &Context<'_, '_>) -> Result<(), Refusal> {
    for (index, expr) in phase.checks.iter().enumerate() {
        match CelValue::resolve(expr, ctx) {
            Ok(CelValue::Bool(true)) => {}
            Ok(other) => return Err(Refusal { index, reason: format!("evaluated to {other:?}") }),
            Err(e) => return Err(Refusal { index, reason: e.to_string() }),
        }
    }
    Ok(())
}

//! The `backend/graphql` namespace as the user wrote it (lura's GraphQL client options: the
//! backend request becomes a GraphQL query or mutation), and its start-up checks that need no
//! file, each naming its JSON path. `query_path` is read by the compiler.

use super::Problem;
use serde_json::{Map, Value};

/// The names `backend/graphql` goes by: the v3 name, then lura's original namespace.
pub const GRAPHQL_NAMES: &[&str] = &["backend/graphql", "github.com/devopsfaith/krakend/transport/http/client/graphql"];

/// `backend/graphql` on a backend. lura's keys (`method` is read by lura though KrakenD's schema
/// leaves it out).
#[derive(Debug, Default, serde::Deserialize)]
pub struct GraphQlConfig {
    /// `query` or `mutation` (any case); anything else leaves the backend a plain HTTP one.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The GraphQL document, inline.
    #[serde(default)]
    pub query: String,
    /// A file holding the document, read at start (relative to the working directory); it
    /// replaces `query`.
    #[serde(default)]
    pub query_path: String,
    /// The variables; a string value `"{name}"` is filled from the endpoint parameter `name`
    /// (queries only).
    #[serde(default)]
    pub variables: Option<Map<String, Value>>,
    #[serde(default, rename = "operationName")]
    pub operation_name: String,
    /// `GET` or `POST` (any case); anything else is `POST`.
    #[serde(default)]
    pub method: String,
    #[serde(default, rename = "@comment")]
    pub comment: Option<Value>,
}

/// What lura does with a GraphQL backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphQlKind {
    Query,
    Mutation,
}

impl GraphQlConfig {
    /// The operation, as lura reads `type` (lower-cased); `None`: not a GraphQL backend at all.
    pub fn kind(&self) -> Option<GraphQlKind> {
        match self.kind.to_ascii_lowercase().as_str() {
            "query" => Some(GraphQlKind::Query),
            "mutation" => Some(GraphQlKind::Mutation),
            _ => None,
        }
    }

    /// Whether the request is sent as a `GET` with URL parameters (else a `POST` with a body).
    pub fn uses_get(&self) -> bool {
        self.method.eq_ignore_ascii_case("GET")
    }

    /// The endpoint parameter a variable's value names, when it is a placeholder: a string that
    /// starts with `{` and ends with `}` (as lura tests it), with a name inside.
    pub fn placeholder(value: &Value) -> Option<&str> {
        let s = value.as_str()?;
        s.strip_prefix('{')?.strip_suffix('}').filter(|name| !name.is_empty())
    }
}

/// The endpoint parameter a placeholder's name stands for: lura compares both with their first
/// letter upper-cased (`{movie_id}` and `{Movie_id}` both name `movie_id`).
pub fn param_index(params: &[String], name: &str) -> Option<usize> {
    let key = super::lambda::capitalised(name);
    params.iter().position(|p| super::lambda::capitalised(p) == key)
}

/// The problems of one backend's `backend/graphql` (`at` is its JSON path), given the endpoint's
/// parameter names: what KrakenD would ignore or send oddly, as warnings. (An unreadable
/// `query_path` is an error of the compiler, which reads it.)
pub(crate) fn validate(
    cfg: &GraphQlConfig,
    at: &str,
    ep: Option<&str>,
    params: &[String],
    warnings: &mut Vec<Problem>,
) {
    let Some(kind) = cfg.kind() else {
        warnings.push(Problem::warning(
            format!("{at}.type"),
            ep,
            format!(
                "`{}` is neither `query` nor `mutation`: the backend is called as a plain HTTP backend, as KrakenD does",
                cfg.kind
            ),
        ));
        return;
    };
    if cfg.query.trim().is_empty() && cfg.query_path.is_empty() {
        warnings.push(Problem::warning(
            at,
            ep,
            "no GraphQL document (`query` or `query_path`): the backend receives an empty `query`, as KrakenD sends it",
        ));
    }
    if !cfg.method.is_empty() && !cfg.uses_get() && !cfg.method.eq_ignore_ascii_case("POST") {
        warnings.push(Problem::warning(
            format!("{at}.method"),
            ep,
            format!("`{}` is neither `GET` nor `POST`: the request is sent as a `POST`, as KrakenD does", cfg.method),
        ));
    }
    for (name, value) in cfg.variables.iter().flatten() {
        let Some(wanted) = GraphQlConfig::placeholder(value) else { continue };
        if kind == GraphQlKind::Mutation {
            warnings.push(Problem::warning(
                format!("{at}.variables.{name}"),
                ep,
                format!("a mutation's variables are not filled from parameters: `{{{wanted}}}` is sent as written, as KrakenD does"),
            ));
        } else if param_index(params, wanted).is_none() {
            warnings.push(Problem::warning(
                format!("{at}.variables.{name}"),
                ep,
                format!("`{{{wanted}}}` is not a parameter of the endpoint: the variable is sent as an empty string, as KrakenD does"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Gateway;

    /// Every problem reported for the endpoint `/films/{movie_id}` whose one backend has this
    /// `backend/graphql` object, one per line.
    fn problems(graphql: &str) -> Vec<String> {
        let text = format!(
            r#"{{"version": 3, "endpoints": [{{"endpoint": "/films/{{movie_id}}", "backend": [
                {{"host": ["http://backend.invalid"], "url_pattern": "/graphql",
                  "extra_config": {{"backend/graphql": {graphql}}}}}]}}]}}"#
        );
        match Gateway::from_json(&text) {
            Ok(g) => g.warnings().iter().map(ToString::to_string).collect(),
            Err(e) => e.errors.iter().chain(&e.warnings).map(ToString::to_string).collect(),
        }
    }

    const AT: &str = "`endpoints[0].backend[0].extra_config.backend/graphql";

    #[test]
    fn the_fixtures_query_is_accepted_without_a_warning() {
        let playground = r#"{"type": "query", "query": "query Query ($movie_id: ID!) {\nfilm (filmID: $movie_id) {\nid\n}\n}",
            "variables": {"movie_id": "{movie_id}"}}"#;
        assert_eq!(problems(playground), Vec::<String>::new());
        let full = r#"{"type": "Mutation", "query": "mutation M { a }", "operationName": "M", "method": "post",
            "variables": {"static": {"foo": false}}}"#;
        assert_eq!(problems(full), Vec::<String>::new());
    }

    #[test]
    fn a_query_path_that_cannot_be_read_is_an_error_naming_its_json_path() {
        let found = problems(r#"{"type": "query", "query_path": "no/such/file.graphql"}"#);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(&format!(
                "error: {AT}.query_path` (endpoint `GET /films/{{movie_id}}`): cannot read the GraphQL document `no/such/file.graphql`: "
            )),
            "{found:?}"
        );
    }

    #[test]
    fn a_query_path_is_read_at_start_relative_to_the_working_directory() {
        let path = std::env::temp_dir().join(format!("tributary-graphql-{}.graphql", std::process::id()));
        std::fs::write(&path, "query { a }").unwrap();
        let found = problems(&format!(r#"{{"type": "query", "query_path": {:?}}}"#, path.display().to_string()));
        std::fs::remove_file(&path).ok();
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn bad_types_and_numbers_no_float64_holds_are_errors_naming_their_json_path() {
        let typed = problems(r#"{"type": "query", "query": "q", "variables": ["a"]}"#);
        assert!(typed[0].starts_with(&format!("error: {AT}.variables`")), "{typed:?}");
        let huge = problems(r#"{"type": "query", "query": "q", "variables": {"n": 1e400}}"#);
        assert!(huge[0].starts_with(&format!("error: {AT}.variables.n`")), "{huge:?}");
        assert!(huge[0].contains("cannot unmarshal number 1e+400 into Go value of type float64"), "{huge:?}");
    }

    #[test]
    fn what_krakend_ignores_or_sends_oddly_is_a_warning() {
        let not_graphql = problems(r#"{"type": "subscription", "query": "q"}"#);
        assert_eq!(not_graphql.len(), 1, "{not_graphql:?}");
        assert!(not_graphql[0].starts_with(&format!("warning: {AT}.type`")), "{not_graphql:?}");
        assert!(not_graphql[0].contains("plain HTTP backend"), "{not_graphql:?}");
        let method = problems(r#"{"type": "query", "query": "q", "method": "PUT"}"#);
        assert!(method[0].starts_with(&format!("warning: {AT}.method`")), "{method:?}");
        let missing = problems(r#"{"type": "query", "query": "q", "variables": {"id": "{film}"}}"#);
        assert!(missing[0].starts_with(&format!("warning: {AT}.variables.id`")), "{missing:?}");
        assert!(missing[0].contains("sent as an empty string"), "{missing:?}");
        let mutation = problems(r#"{"type": "mutation", "query": "q", "variables": {"id": "{movie_id}"}}"#);
        assert!(mutation[0].contains("sent as written"), "{mutation:?}");
        let empty = problems(r#"{"type": "query"}"#);
        assert!(empty[0].starts_with(&format!("warning: {AT}`")) && empty[0].contains("empty `query`"), "{empty:?}");
        let unknown = problems(r#"{"type": "query", "query": "q", "operation_name": "x"}"#);
        assert!(unknown[0].starts_with(&format!("warning: {AT}.operation_name`")), "{unknown:?}");
    }

    #[test]
    fn on_an_endpoint_or_the_service_it_is_ignored_with_a_warning() {
        let text = r#"{"version": 3, "extra_config": {"backend/graphql": {"type": "query", "query": "q"}},
            "endpoints": [{"endpoint": "/a", "extra_config": {"backend/graphql": {"type": "query", "query": "q"}},
            "backend": [{"host": ["http://backend.invalid"], "url_pattern": "/"}]}]}"#;
        let g = Gateway::from_json(text).expect("warnings only");
        let found: Vec<String> = g.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("warning: `extra_config.backend/graphql`"), "{found:?}");
        assert!(found[1].starts_with("warning: `endpoints[0].extra_config.backend/graphql`"), "{found:?}");
    }
}

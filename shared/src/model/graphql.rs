//! A `backend/graphql` backend's compiled form: the operation, its document and variables, and
//! which variables the endpoint's parameters fill. The prepare phase builds each request from it.

use crate::codec::json::Object;
use crate::config::{GraphQlConfig, GraphQlKind, graphql_param_index};
use bytes::Bytes;
use http::Method;

pub(crate) struct GraphQl {
    pub kind: GraphQlKind,
    /// `GET` (the operation in the URL) or `POST` (in the body).
    pub method: Method,
    /// The document (`query`, or the file `query_path` names, read at start).
    pub query: String,
    /// Omitted from the request when empty.
    pub operation_name: String,
    /// The configured variables, numbers as lura's round trip through Go's `float64` leaves
    /// them; placeholders still in place.
    pub variables: Object,
    /// A query's variables filled from the endpoint's parameters: the variable's name and the
    /// parameter's index (`None`: no such parameter, sent as `""` as lura does).
    pub placeholders: Vec<(String, Option<usize>)>,
    /// The body of a query without placeholders, the same for every request (lura builds it
    /// once too); set by the compiler.
    pub fixed_body: Option<Bytes>,
}

impl GraphQl {
    /// The compiled form of a config whose `type` is a query or a mutation (else `None`), with
    /// the document already read and `variables` already normalised by the caller.
    pub(crate) fn new(cfg: &GraphQlConfig, query: String, variables: Object, params: &[String]) -> Option<GraphQl> {
        let kind = cfg.kind()?;
        let placeholders = match kind {
            // lura fills placeholders for queries only; a mutation's are sent as written.
            GraphQlKind::Mutation => Vec::new(),
            GraphQlKind::Query => variables
                .iter()
                .filter_map(|(name, value)| {
                    let wanted = GraphQlConfig::placeholder(value)?;
                    Some((name.clone(), graphql_param_index(params, wanted)))
                })
                .collect(),
        };
        Some(GraphQl {
            kind,
            method: if cfg.uses_get() { Method::GET } else { Method::POST },
            query,
            operation_name: cfg.operation_name.clone(),
            variables,
            placeholders,
            fixed_body: None,
        })
    }
}

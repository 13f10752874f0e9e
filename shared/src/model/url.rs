//! A backend's compiled `url_pattern`: literals and the placeholders the prepare phase fills
//! (endpoint parameters, `{respN_x}` fields of earlier answers, `{JWT.x}` claims).

/// One piece of a compiled `url_pattern`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum UrlPart {
    Literal(String),
    /// An endpoint parameter, by index in the endpoint's parameter list; `in_query` picks the encoding.
    Param {
        index: usize,
        in_query: bool,
    },
    /// `{respN_a.b}`: a field of backend N's formatted response (sequential proxy).
    Resp {
        backend: usize,
        path: Vec<String>,
        raw: String,
        in_query: bool,
    },
    /// `{JWT.claim}`: a claim of the validated token (`raw` when there is none).
    Jwt {
        claim: String,
        raw: String,
        in_query: bool,
    },
    /// A placeholder that is never filled (e.g. `{JWT.sub}` without JWT validation): sent in
    /// KrakenD's internal template form, as KrakenD does.
    Unresolved(String),
}

/// KrakenD's internal template form of a placeholder: `{id}` -> `{{.Id}}`.
pub(crate) fn template_key(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{{{{.{}{}}}}}", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// Compiles a `url_pattern` (already cleaned) against the endpoint's parameter names.
pub(crate) fn compile_url(pattern: &str, params: &[String]) -> Vec<UrlPart> {
    let mut parts = Vec::new();
    let mut rest = pattern;
    let mut literal = String::new();
    let query_start = pattern.find('?');
    let mut consumed = 0;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        let valid =
            !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || "_-.:/".contains(c)) && !name.contains('{');
        literal.push_str(&rest[..start]);
        let abs = consumed + start;
        let in_query = query_start.is_some_and(|q| abs > q);
        if valid {
            if !literal.is_empty() {
                parts.push(UrlPart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(placeholder_part(name, params, in_query));
        } else {
            literal.push('{');
            literal.push_str(name);
            literal.push('}');
        }
        consumed += start + 1 + end + 1;
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(UrlPart::Literal(literal));
    }
    parts
}

fn placeholder_part(name: &str, params: &[String], in_query: bool) -> UrlPart {
    if let Some(index) = params.iter().position(|p| p == name) {
        return UrlPart::Param { index, in_query };
    }
    if let Some(rest) = name.strip_prefix("resp") {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && rest[digits..].starts_with('_')
            && let Ok(backend) = rest[..digits].parse()
        {
            let path = rest[digits + 1..].split('.').map(str::to_owned).collect();
            return UrlPart::Resp { backend, path, raw: template_key(name), in_query };
        }
    }
    if let Some(claim) = name.strip_prefix("JWT.") {
        return UrlPart::Jwt { claim: claim.to_owned(), raw: template_key(name), in_query };
    }
    UrlPart::Unresolved(template_key(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_patterns_compile_to_literals_and_params() {
        let params = vec!["id".to_owned(), "channel".to_owned()];
        let parts = compile_url("/users/{id}?c={channel}&x={resp0_a.b}", &params);
        assert_eq!(parts[0], UrlPart::Literal("/users/".into()));
        assert_eq!(parts[1], UrlPart::Param { index: 0, in_query: false });
        assert_eq!(parts[3], UrlPart::Param { index: 1, in_query: true });
        assert!(matches!(&parts[5], UrlPart::Resp { backend: 0, path, .. } if path == &["a", "b"]));
    }

    #[test]
    fn template_keys_upper_case_the_first_letter_only() {
        assert_eq!(template_key("resp0_missing"), "{{.Resp0_missing}}");
        assert_eq!(template_key("user_id"), "{{.User_id}}");
    }
}

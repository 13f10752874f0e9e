//! The `security/*` features: CORS (`security/cors`) and the allowed hosts and security headers
//! of `security/http`. Each compiles its own config and gives verdicts and headers; the guard
//! phase turns them into answers.

pub(crate) mod botdetector;
pub(crate) mod cors;
pub(crate) mod http;

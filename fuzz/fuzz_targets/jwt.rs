//! JWT parsing and validation (`auth/validator`, HS256 with a local JWK set): arbitrary tokens
//! and claims, signed with the key or not. Whatever the token, nothing panics and a token not
//! signed with the key, or with another `alg` or `kid`, is a 401. Where KrakenD's outcome is
//! plain (no `iat`; integer `exp`/`nbf` an hour off or absent; `roles` as a list of strings),
//! the outcome is checked too. Also parses arbitrary JWK sets.
#![no_main]

#[path = "../../shared/tests/checks/jwt.rs"]
mod jwt;
#[path = "../../shared/tests/oracle/mod.rs"]
mod oracle;

libfuzzer_sys::fuzz_target!(|case: jwt::Case| jwt::check(case));

//! The `auth/*` features: token validation (`auth/validator`, krakend-jose's JWT validator).
//! It compiles its own config and gives a verdict; the guard phase turns it into an answer.

pub(crate) mod jwt;

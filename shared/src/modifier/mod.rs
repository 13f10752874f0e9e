//! Modifiers of a backend's HTTP exchange, under KrakenD's `modifier/*` namespaces: `martian`
//! (krakend-martian's request and response modifiers).

pub(crate) mod martian;

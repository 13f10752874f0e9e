//! A recording backend: a raw TCP backend on 127.0.0.1 that answers every request with one fixed
//! JSON body and keeps every request head, parsed, so tests can say what reached a backend.

use crate::chaos::{Backend, finish, response};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// One request as the backend received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    /// Every value of a header (case-insensitive name), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

/// A [`Backend`] answering `200` with a JSON body, recording each request head.
pub struct Recorder {
    pub backend: Backend,
    heads: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Recorder {
    pub async fn start(body: &'static str) -> Recorder {
        let heads = Arc::new(Mutex::new(Vec::new()));
        let recorded = heads.clone();
        let backend = Backend::start(move |mut stream, head| {
            recorded.lock().expect("heads lock").push(head);
            async move {
                let answer = response("HTTP/1.1 200 OK", &[("Content-Type", "application/json")], body.as_bytes());
                if stream.write_all(&answer).await.is_ok() {
                    finish(stream).await;
                }
            }
        })
        .await;
        Recorder { backend, heads }
    }

    pub fn url(&self) -> String {
        self.backend.url()
    }

    /// How many requests arrived so far.
    pub fn requests(&self) -> usize {
        self.heads.lock().expect("heads lock").len()
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.heads.lock().expect("heads lock").iter().map(|h| parse_head(h)).collect()
    }
}

/// A request head parsed (panics on a head that is not HTTP: the gateway wrote it).
pub fn parse_head(head: &[u8]) -> Seen {
    let mut storage = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut storage);
    assert!(req.parse(head).expect("a request head").is_complete(), "incomplete head");
    Seen {
        method: req.method.expect("a method").to_owned(),
        path: req.path.expect("a request target").to_owned(),
        headers: req
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
            .collect(),
    }
}

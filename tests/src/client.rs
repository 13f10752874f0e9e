//! The client side: a case request turned into exact header lines (like `run_cases.py`'s `send`),
//! and a raw HTTP/1.1 client over a tokio `TcpStream` that writes them verbatim, reads one
//! response the way Python's http.client does, and never follows redirects.

use crate::case::{CaseRequest, encode_body};
use crate::compare::{Response, latin1};
use bytes::Bytes;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request as it goes out: method, request target (path with query), header lines in order,
/// body (`None` = no body).
#[derive(Debug, Clone)]
pub struct OutRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl OutRequest {
    /// Like `send`: `Host: 127.0.0.1:<port>` first unless the case sets Host, then the case's
    /// headers in order (a list = several lines), then `Content-Length` unless the case sets it and
    /// when there is a body or the method is POST, PUT or PATCH.
    pub fn from_case(req: &CaseRequest, port: u16) -> Result<OutRequest, String> {
        let method = req.method().to_owned();
        let case_headers = req.headers.as_ref().map(|h| h.0.as_slice()).unwrap_or(&[]);
        let has = |name: &str| case_headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let body = match &req.body {
            None => None,
            Some(raw) => Some(encode_body(Some(raw)).map_err(|e| format!("malformed request body: {e}"))?),
        };
        let mut headers = Vec::new();
        if !has("host") {
            headers.push(("Host".to_owned(), format!("127.0.0.1:{port}")));
        }
        for (name, values) in case_headers {
            for value in values.lines() {
                headers.push((name.clone(), value.to_owned()));
            }
        }
        if !has("content-length") && (body.is_some() || matches!(method.as_str(), "POST" | "PUT" | "PATCH")) {
            let length = body.as_ref().map_or(0, Vec::len);
            headers.push(("Content-Length".to_owned(), length.to_string()));
        }
        Ok(OutRequest { method, target: req.path().to_owned(), headers, body })
    }

    /// The request bytes: request line, header lines, blank line, body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if let Some(body) = &self.body {
            out.extend_from_slice(body);
        }
        out
    }
}

const MAX_HEADERS: usize = 256;

/// Sends `req` on a new connection to `addr` and reads the response (no timeout here: the caller
/// bounds it). The connection is closed afterwards.
pub async fn send(addr: SocketAddr, req: &OutRequest) -> Result<Response, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream.write_all(&req.to_bytes()).await.map_err(|e| format!("cannot write the request: {e}"))?;
    let mut reader = Reader { stream, buf: Vec::new() };
    let response = read_response(&mut reader, req.method == "HEAD").await;
    let _ = reader.stream.shutdown().await;
    response
}

struct Reader {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Reader {
    /// Reads more bytes into the buffer; false at end of stream.
    async fn fill(&mut self) -> Result<bool, String> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await.map_err(|e| format!("cannot read the response: {e}"))?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// Takes `n` bytes from the front of the stream.
    async fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(format!("connection closed after {} of {n} body bytes", self.buf.len()));
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Takes one line (without its CRLF or LF).
    async fn line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if !self.fill().await? {
                return Err("connection closed inside a chunked body".to_owned());
            }
        }
    }

    async fn rest(&mut self) -> Result<Vec<u8>, String> {
        while self.fill().await? {}
        Ok(std::mem::take(&mut self.buf))
    }
}

/// A parsed response head: its length in the buffer, the status, the header lines.
type Head = (usize, u16, Vec<(String, String)>);

/// The response head at the start of `buf`, `None` while incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, String> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Response::new(&mut storage);
    match head.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) => {
            let status = head.code.ok_or("response without status")?;
            let headers = head.headers.iter().map(|h| (h.name.to_owned(), latin1(h.value))).collect();
            Ok(Some((len, status, headers)))
        }
        Err(e) => Err(format!("malformed response head: {e}")),
    }
}

async fn read_response(reader: &mut Reader, head_request: bool) -> Result<Response, String> {
    let (status, headers) = loop {
        match parse_head(&reader.buf)? {
            Some((len, 100, _)) => {
                reader.buf.drain(..len); // "100 Continue" is skipped, like http.client does
            }
            Some((len, status, headers)) => {
                reader.buf.drain(..len);
                break (status, headers);
            }
            None => {
                if !reader.fill().await? {
                    return Err(if reader.buf.is_empty() {
                        "connection closed without a response".to_owned()
                    } else {
                        "connection closed inside the response head".to_owned()
                    });
                }
            }
        }
    };
    let find =
        |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned());
    let body = if head_request || status < 200 || status == 204 || status == 304 {
        Vec::new()
    } else if find("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
        read_chunked(reader).await?
    } else if let Some(length) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        reader.take(length).await?
    } else {
        reader.rest().await?
    };
    Ok(Response { status, headers, body: Bytes::from(body) })
}

async fn read_chunked(reader: &mut Reader) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line = reader.line().await?;
        let size_text = String::from_utf8_lossy(&line);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("invalid chunk size {size_text:?}"))?;
        if size == 0 {
            while !reader.line().await?.is_empty() {} // trailer fields
            return Ok(body);
        }
        body.extend(reader.take(size).await?);
        reader.line().await?;
    }
}

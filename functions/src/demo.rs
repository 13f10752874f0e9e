//! `tributary demo`: demo backends on 127.0.0.1 and a demo config that aggregates them, so the
//! main job can be tried with nothing set up. The backends are plain hyper servers.

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::net::TcpListener;
use tributary_core::Gateway;

/// Starts the demo backend on 127.0.0.1 (`port` 0: chosen by the OS) and returns its base URL.
pub async fn start_backend(port: u16) -> std::io::Result<String> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let (parts, body) = req.into_parts();
                    let body = http_body_util::BodyExt::collect(body).await.map(|b| b.to_bytes()).unwrap_or_default();
                    Ok::<_, Infallible>(answer(&parts.method, parts.uri.path(), &body))
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

fn answer(method: &http::Method, path: &str, request_body: &[u8]) -> Response<Full<Bytes>> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if method == http::Method::POST && segments.as_slice() == ["orders"] {
        // Echo the order back, as a create endpoint would.
        let order = serde_json::from_slice::<serde_json::Value>(request_body).unwrap_or(serde_json::Value::Null);
        let body = serde_json::json!({"status": "created", "order": order}).to_string();
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = StatusCode::CREATED;
        r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
        return r;
    }
    let body = match segments.as_slice() {
        ["users", id] => format!(
            r#"{{"id":{id},"name":"User {id}","email":"user{id}@example.com","password_hash":"x1y2z3","address":{{"city":"Lisbon","zip":"1100"}}}}"#
        ),
        ["users", id, "posts"] => format!(
            r#"[{{"id":1,"user_id":{id},"title":"Hello from {id}"}},{{"id":2,"user_id":{id},"title":"Second post"}}]"#
        ),
        ["weather", city] => format!(
            r#"{{"city":"{city}","temperature_c":21.5,"conditions":"sunny","station":{{"id":"LIS-1","elevation_m":95}}}}"#
        ),
        ["slow"] => r#"{"slow":true}"#.to_owned(),
        _ => {
            let mut r = Response::new(Full::new(Bytes::from_static(b"not found")));
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

/// The demo config: three endpoints aggregating the demo backend.
pub fn config(backend: &str) -> String {
    format!(
        r#"{{
  "version": 3,
  "name": "Tributary demo",
  "timeout": "2s",
  "host": ["{backend}"],
  "endpoints": [
    {{
      "endpoint": "/users/{{id}}",
      "backend": [
        {{ "url_pattern": "/users/{{id}}", "deny": ["password_hash"], "group": "user" }},
        {{ "url_pattern": "/users/{{id}}/posts", "is_collection": true, "mapping": {{ "collection": "posts" }} }}
      ]
    }},
    {{
      "endpoint": "/dashboard/{{id}}",
      "cache_ttl": "60s",
      "backend": [
        {{ "url_pattern": "/users/{{id}}", "allow": ["name", "address.city"] }},
        {{ "url_pattern": "/weather/lisbon", "target": "station", "group": "station" }},
        {{ "url_pattern": "/weather/lisbon", "allow": ["temperature_c", "conditions"], "group": "weather" }}
      ]
    }},
    {{
      "endpoint": "/orders",
      "method": "POST",
      "backend": [ {{ "url_pattern": "/orders" }} ]
    }},
    {{
      "endpoint": "/users/{{id}}/titles",
      "output_encoding": "json-collection",
      "backend": [
        {{ "url_pattern": "/users/{{id}}/posts", "is_collection": true,
           "extra_config": {{ "proxy": {{ "flatmap_filter": [ {{ "type": "del", "args": ["collection.*.user_id"] }} ] }} }} }}
      ]
    }}
  ]
}}"#
    )
}

/// Runs the demo until SIGINT/SIGTERM; returns the exit code. `backend_port` 0 lets the OS pick.
pub async fn run(port: u16, backend_port: u16) -> i32 {
    let backend = match start_backend(backend_port).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot start the demo backend: {e}");
            return 1;
        }
    };
    let gateway = match Gateway::from_json(&config(&backend)) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: the demo config is invalid: {e}");
            return 1;
        }
    };
    let access = match crate::cli::start_logging(&gateway) {
        Ok(access) => access,
        Err(code) => return code,
    };
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            return 1;
        }
    };
    println!("Tributary demo: gateway on http://127.0.0.1:{port}, demo backend on {backend}");
    println!("Try (Ctrl-C to stop):");
    println!("curl -s http://127.0.0.1:{port}/users/1");
    println!("curl -s http://127.0.0.1:{port}/dashboard/2");
    println!("curl -s http://127.0.0.1:{port}/users/3/titles");
    println!(
        "curl -s -X POST -H 'Content-Type: application/json' -d '{{\"item\":\"book\",\"qty\":2}}' http://127.0.0.1:{port}/orders"
    );
    println!("curl -s http://127.0.0.1:{port}/__health");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    match crate::server::serve_logged(std::sync::Arc::new(gateway), listener, crate::cli::shutdown_signal(), access)
        .await
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

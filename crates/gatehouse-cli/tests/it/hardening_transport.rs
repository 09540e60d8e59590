//! Issue 24, hole 5, against the real binary and real sockets: half-sent
//! requests, slow bodies, idle connections and more connections than the
//! cap are cut off or kept waiting, while a normal client is still served;
//! and the server's log written to a file has no colour codes.

use std::time::{Duration, Instant};

use gatehouse_testkit::{engine_test, with_database};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Server, admin_token, http};

fn address(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; `None` if it has not
/// within `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    tokio::time::timeout(limit, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .ok()
    .map(|()| received)
}

engine_test!(half_sent_requests_are_closed_after_the_header_timeout, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let server = Server::start_with(&data_dir, &db.url, &[("GATEHOUSE_HTTP_HEADER_READ_TIMEOUT_SECONDS", "1")]).await;
    let started = Instant::now();
    let mut sockets = Vec::new();
    for _ in 0..200 {
        let mut socket = TcpStream::connect(address(&server)).await.unwrap();
        socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: gatehouse\r\nX-Slow: ").await.unwrap();
        sockets.push(socket);
    }
    for socket in &mut sockets {
        let closed = read_until_closed(socket, Duration::from_secs(10)).await;
        assert!(closed.is_some(), "a half-sent request is still open after {:?}", started.elapsed());
    }
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    // The listener is healthy.
    assert_eq!(http().get(format!("{}/healthz", server.url)).send().await.unwrap().status(), 200);
}));

engine_test!(a_slow_body_is_cut_off_at_the_body_timeout, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let server = Server::start_with(&data_dir, &db.url, &[("GATEHOUSE_HTTP_REQUEST_BODY_TIMEOUT_SECONDS", "1")]).await;
    let token = admin_token(&server, &data_dir).await;
    let mut socket = TcpStream::connect(address(&server)).await.unwrap();
    let head = format!(
        "POST /api/v1/verify/commit HTTP/1.1\r\nHost: gatehouse\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"commit\": \""
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    // One byte every 200 ms: the whole body would take 5.5 hours.
    let (mut reader, mut writer) = socket.into_split();
    let trickle = tokio::spawn(async move {
        while writer.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "the slow body was not cut off: {answer}");
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}));

engine_test!(idle_connections_are_closed_after_the_idle_timeout, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let server = Server::start_with(&data_dir, &db.url, &[("GATEHOUSE_HTTP_IDLE_TIMEOUT_SECONDS", "1")]).await;
    let mut socket = TcpStream::connect(address(&server)).await.unwrap();
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: gatehouse\r\n\r\n").await.unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut socket, Duration::from_secs(10)).await.expect("closed when idle");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5), "{elapsed:?}");
}));

engine_test!(the_connection_cap_holds_and_a_client_is_served_once_others_leave, |engine| with_database(
    engine,
    |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start_with(&data_dir, &db.url, &[("GATEHOUSE_HTTP_MAX_CONNECTIONS", "4")]).await;
        // Let the readiness probe's connection go.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut hogs = Vec::new();
        for _ in 0..4 {
            let mut socket = TcpStream::connect(address(&server)).await.unwrap();
            socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: gatehouse\r\n\r\n").await.unwrap();
            let mut buffer = [0u8; 1024];
            let n = socket.read(&mut buffer).await.unwrap();
            assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"), "a hog is served");
            hogs.push(socket);
        }
        // A fifth connection waits: it is not served while four are open.
        let client = reqwest::Client::builder().timeout(Duration::from_millis(1500)).build().unwrap();
        let waiting = client.get(format!("{}/healthz", server.url)).send().await;
        assert!(waiting.is_err(), "a fifth connection was served: {waiting:?}");
        // Two leave: a normal client is served.
        hogs.truncate(2);
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let served = client.get(format!("{}/healthz", server.url)).send().await.expect("served once others left");
        assert_eq!(served.status(), 200);
    }
));

engine_test!(a_log_written_to_a_file_has_no_colour_codes, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let server = Server::start(&data_dir, &db.url).await;
    // A success, a refusal and a miss, each a log line.
    http().get(format!("{}/healthz", server.url)).send().await.unwrap();
    http().get(format!("{}/api/v1/whoami", server.url)).bearer_auth("gth_nothing").send().await.unwrap();
    http().get(format!("{}/no/such/path", server.url)).send().await.unwrap();
    server.signal("TERM");
    let log = server.log_text();
    assert!(log.contains("gatehouse is listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "the log holds ANSI escape codes:\n{log}");
}));

use std::net::SocketAddr;

use gatehouse_domain::outbound::OutboundRules;

use super::*;

/// A server on loopback that answers every request, and how to reach it.
async fn loopback_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "secret internal page" });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    address
}

fn client(rules: OutboundRules) -> OutboundClient {
    OutboundClient::new(&rules, reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)))
}

#[tokio::test]
async fn loopback_is_refused_by_default_by_literal_and_by_name() {
    let address = loopback_server().await;
    let client = client(OutboundRules::default());
    let literal = client.get(&format!("http://{address}/")).err().unwrap();
    assert!(literal.contains("loopback") && literal.contains("allow_loopback"), "{literal}");
    for url in
        [format!("http://localhost:{}/", address.port()), format!("http://[::ffff:127.0.0.1]:{}/", address.port())]
    {
        let outcome = match client.get(&url) {
            Err(refused) => refused,
            Ok(request) => describe(&request.send().await.unwrap_err()),
        };
        assert!(outcome.contains("loopback"), "{url}: {outcome}");
        assert!(!outcome.contains("secret"), "{url}: {outcome}");
        if url.contains("localhost") {
            assert!(!outcome.contains("127.0.0.1"), "what the name resolved to is not told: {outcome}");
        }
    }
    let metadata = client.get("http://169.254.169.254/latest/meta-data/").err().unwrap();
    assert!(metadata.contains("link-local"), "{metadata}");
    let private = client.get("http://10.0.0.1/").err().unwrap();
    assert!(private.contains("private"), "{private}");
}

#[tokio::test]
async fn configured_loopback_is_reached() {
    let address = loopback_server().await;
    let client = client(OutboundRules { allow_loopback: true, ..OutboundRules::default() });
    for url in [format!("http://{address}/"), format!("http://localhost:{}/", address.port())] {
        let response = client.get(&url).unwrap().send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
    }
}

//! Outbound HTTP: every request gatehouse makes on its own (issuers'
//! discovery and JWKS, the IdP's endpoints, the GitHub API) goes through an
//! [`OutboundClient`], which refuses loopback, link-local and private
//! addresses unless `[outbound]` allows them (`domain::outbound`). Names are
//! checked where they resolve (a resolver that drops refused addresses, so
//! a DNS name pointing at 127.0.0.1 is refused too), IP literals before the
//! request is sent; redirects are never followed. Errors name the rule,
//! never the address found nor what a server answered.

use std::net::SocketAddr;
use std::sync::Arc;

use gatehouse_domain::outbound::{OutboundRefusal, OutboundRules};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, RequestBuilder};

/// A client whose every connection is to an allowed address.
#[derive(Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    rules: Arc<OutboundRules>,
}

impl OutboundClient {
    /// `builder` with its timeouts and agent; the resolver and the redirect
    /// policy are set here.
    pub fn new(rules: &OutboundRules, builder: reqwest::ClientBuilder) -> Self {
        let rules = Arc::new(rules.clone());
        let client = builder
            .dns_resolver(Arc::new(FilteringResolver { rules: rules.clone() }))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { client, rules }
    }

    /// A request to `url`, unless its host is an IP literal the rules refuse.
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| format!("`{url}` is not a URL"))?;
        if let Some(host) = parsed.host_str()
            && let Ok(address) = host.trim_start_matches('[').trim_end_matches(']').parse()
        {
            self.rules.check(address).map_err(|refusal| format!("{url}: {}", refused(refusal)))?;
        }
        Ok(self.client.request(method, parsed))
    }

    pub fn get(&self, url: &str) -> Result<RequestBuilder, String> {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: &str) -> Result<RequestBuilder, String> {
        self.request(Method::POST, url)
    }
}

fn refused(refusal: OutboundRefusal) -> String {
    format!("refused by the outbound rules: {refusal}")
}

/// What went wrong with a request, without echoing a server's answer: the
/// outbound rule that refused it, a timeout, or a connection failure.
pub fn describe(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<OutboundRefusal>() {
            return refused(*refusal);
        }
        source = cause.source();
    }
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else if error.is_decode() || error.is_body() {
        "the answer could not be read".into()
    } else {
        "the request failed".into()
    }
}

struct FilteringResolver {
    rules: Arc<OutboundRules>,
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| match rules.check(address.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refusal = Some(why);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refusal)) => Err(Box::new(refusal) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests;

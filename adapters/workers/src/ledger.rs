//! The ledger through its HTTP proxy (`openinsure ledger-proxy` in front of TigerBeetle), over
//! the Workers `fetch`.

use openinsure_ledger::BackendError;
use openinsure_ledger::remote::Transport;
use worker::{Fetch, Headers, Method, Request, RequestInit};

/// POSTs each ledger call to the proxy with the service key.
#[derive(Debug)]
pub struct FetchTransport {
    pub url: String,
    pub key: String,
}

#[async_trait::async_trait(?Send)]
impl Transport for FetchTransport {
    async fn post(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), BackendError> {
        let failed = |e: worker::Error| BackendError(format!("ledger proxy: {e}"));
        let headers = Headers::new();
        headers.set("authorization", &format!("Bearer {}", self.key)).map_err(failed)?;
        headers.set("content-type", "application/json").map_err(failed)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(js_sys::Uint8Array::from(body.as_slice()).into()));
        let request = Request::new_with_init(&self.url, &init).map_err(failed)?;
        let mut response = Fetch::Request(request).send().await.map_err(failed)?;
        let status = response.status_code();
        Ok((status, response.bytes().await.map_err(failed)?))
    }
}

//! The system of record through Hyperdrive: the SQL store's statements over the wire client,
//! each connection a Workers socket to the binding's host and port.

use openinsure_sql::wire::{Connector, Stream};
use worker::Socket;

/// Opens a socket to Hyperdrive (locally, wrangler's proxy to the database of
/// `localConnectionString`).
#[derive(Debug)]
pub struct HyperdriveSocket {
    pub host: String,
    pub port: u16,
}

#[async_trait::async_trait(?Send)]
impl Connector for HyperdriveSocket {
    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        let socket = Socket::builder()
            .connect(self.host.clone(), self.port)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e.to_string()))?;
        socket.opened().await.map_err(|e| std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e.to_string()))?;
        Ok(Box::new(socket))
    }
}

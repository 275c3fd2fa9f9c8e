//! The system of record through Hyperdrive: the SQL store's statements over the wire client,
//! each connection a Workers socket to the binding's host and port.

use std::pin::Pin;
use std::task::{Context, Poll};

use openinsure_sql::wire::{Connector, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
        Ok(Box::new(Closing(Some(socket))))
    }
}

/// A socket closed when dropped (a `worker::Socket` is not): a Worker holds at most six open
/// connections at once, and a connection dropped on an error path must give its place back.
struct Closing(Option<Socket>);

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(mut socket) = self.0.take() {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = socket.close().await;
            });
        }
    }
}

fn gone() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotConnected, "the socket is closed")
}

impl AsyncRead for Closing {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().0.as_mut() {
            Some(s) => Pin::new(s).poll_read(cx, buf),
            None => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Closing {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut().0.as_mut() {
            Some(s) => Pin::new(s).poll_write(cx, buf),
            None => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().0.as_mut() {
            Some(s) => Pin::new(s).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut().0.as_mut() {
            Some(s) => Pin::new(s).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}

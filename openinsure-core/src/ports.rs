//! What every port trait asks of its implementations, switched once for the target.
//!
//! Natively the ports are shared across threads: an implementation must be `Send + Sync`, and
//! async methods return `Send` futures (`#[async_trait]`). On `wasm32` (Cloudflare Workers) there
//! are no threads and the runtime's handles are not `Send`: the bound is empty and async methods
//! use `#[async_trait(?Send)]`. Every port trait is declared `pub trait Port: MaybeSendSync`, and
//! every definition and implementation of an async port carries the same pair of attributes:
//!
//! ```ignore
//! #[cfg_attr(not(target_arch = "wasm32"), async_trait)]
//! #[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
//! ```
//!
//! (as y-sweet-core's `store` module drops `Send + Sync` on `wasm32`).

/// `Send + Sync` natively; nothing on `wasm32`.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}

/// `Send + Sync` natively; nothing on `wasm32`.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

#![doc = include_str!("../README.md")]

pub mod guard;
pub mod hub;
pub mod protocol;
pub mod room;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use hub::{ConnId, Effect, Frame, Hub, HubConfig, Member};
pub use protocol::{Annotation, ChatMessage, ClientMessage, ServerEvent};
pub use room::{DealRoom, Participant, ParticipantRole, Permissions, RoomStatus};
pub use store::DealRoomStore;

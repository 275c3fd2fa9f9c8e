//! Policy lifecycle transitions.

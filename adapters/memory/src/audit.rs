//! The in-memory PHI audit log (see `openinsure_hipaa::audit`).

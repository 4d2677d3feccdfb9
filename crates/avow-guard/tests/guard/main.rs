//! Integration tests of the guard: hostile tokens, valid tokens, binding, the tower layer, JWKS
//! sources and limited-use routes.

mod hostile;
mod jwks;
mod layer;
mod limited_use;
mod servers;
mod support;
mod valid;

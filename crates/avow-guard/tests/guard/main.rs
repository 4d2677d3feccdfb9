//! Integration tests of the guard: hostile tokens, valid tokens, binding and the tower layer.

mod hostile;
mod layer;
mod support;
mod valid;

//! Examples and integration tests for hubble.

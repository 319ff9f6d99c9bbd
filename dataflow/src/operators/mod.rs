//! The operators freshet renders, one per file.

pub mod over;
pub mod session;
pub mod sink;
pub mod source;
pub mod window;

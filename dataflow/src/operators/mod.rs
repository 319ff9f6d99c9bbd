//! The operators freshet renders, one per file.

pub mod over;
mod over_frame;
pub mod sink;
pub mod source;
pub mod window;

//! The operators freshet renders, one per file.

pub mod emit;
pub mod file_target;
pub mod fused_sink;
pub mod interval_join;
pub mod join_output;
pub mod over;
mod over_frame;
mod pending_dead_letters;
pub mod prefix;
pub mod row_encoder;
pub mod session;
pub mod sink;
pub mod source;
mod store_writer;
pub mod window;
mod window_delta;
mod window_rows;
mod window_walk;

//! What Citrus Workstation asks of the machine it runs on: its folders ([`home`]), who runs a
//! piece of work ([`owner`]), and the operating system's memory ([`memory`]: huge pages for
//! weights, own pages for large allocations, available, resident and peak memory).
//!
//! The bottom of the model crates: it must never import any other citrus crate, nor candle.

pub mod home;
pub mod memory;
pub mod owner;

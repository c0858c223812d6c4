//! Release builds link ecsx as a position-dependent executable: a PIE of
//! ecsx's size has ~43,000 relative relocations that the dynamic loader
//! applies at every start (about 260 of the 440 page faults of `ecsx
//! --version`, and 0.5 ms of its 1.8 ms of CPU). Without PIE the loader
//! applies none. The price: the executable's own code and data are at a
//! fixed address (libraries, stack and heap are still randomized). Debug
//! builds and tests keep the toolchain's default. docs/benchmarks.md,
//! "Binary size and start-up", has the measurements.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("PROFILE").as_deref() == Ok("release")
        && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
    {
        println!("cargo:rustc-link-arg-bin=ecsx=-no-pie");
    }
}

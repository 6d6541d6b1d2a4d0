//! `customer-analysis`: see `customer-analysis --help`.

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    customer_analysis::cli::main()
}

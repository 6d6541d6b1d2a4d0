//! `customer-analysis`: see `customer-analysis --help`.

fn main() -> std::process::ExitCode {
    customer_analysis::cli::main()
}

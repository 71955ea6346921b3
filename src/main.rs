fn main() -> std::process::ExitCode {
    fragsim::cli::main()
}

"""One module per subcommand: run(ctx, ...) -> a frozen result object."""

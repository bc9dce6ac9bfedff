complete --keep-order --exclusive --command kron --arguments "(KRON_COMPLETE=fish kron -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"

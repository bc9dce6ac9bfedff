
set edit:completion:arg-completer[kron] = { |@words|
    var index = (count $words)
    set index = (- $index 1)

    put (env _CLAP_IFS="\n" _CLAP_COMPLETE_INDEX=(to-string $index) KRON_COMPLETE="elvish" kron -- $@words) | to-lines
}


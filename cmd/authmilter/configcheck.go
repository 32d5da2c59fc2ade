package main

import (
	"fmt"
	"io"
)

// cmdConfigCheck loads a configuration and prints every error in it, one
// "file:line: what is wrong" per line, like `mox config test`.
func cmdConfigCheck(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flagSet("config check", stderr)
	path := fs.String("c", "", "configuration `FILE` to check")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: authmilter config check -c FILE")
		return 2
	}
	if _, err := loadConfig(*path); err != nil {
		printConfigError(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: configuration OK\n", *path)
	return 0
}

// Command camvisor is the camera patrol server.
//
//	camvisor run   --config FILE [--listen ADDR] [--db PATH]
//	camvisor check --config FILE
//	camvisor db backup --db FILE --out COPY
//	camvisor db report --db FILE [--camera ID] [--since T]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set by the Makefile (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command line that was not understood; usage is printed.
var errUsage = errors.New("usage")

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stderr)
	case "check":
		err = cmdCheck(args[1:], stdout)
	case "db":
		err = cmdDB(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "camvisor", version)
	case "help", "-h", "--help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "camvisor: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintf(stderr, "camvisor: %v\n", err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `camvisor patrols IP cameras over RTSP and keeps no ffmpeg process alive
longer than the code that started it.

Commands:
  run   --config FILE [--listen ADDR] [--db PATH]   start the server
  check --config FILE                               validate a config and exit
  db backup --db FILE --out COPY                    consistent copy, safe while the server runs
  db report --db FILE [--camera ID] [--since T]     the incident report
  version                                           print the version

Run "camvisor COMMAND -h" for a command's flags.
`)
}

// newFlags is a FlagSet that reports errors instead of exiting.
func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("camvisor "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// Command camvisor is the camera patrol server.
//
//	camvisor run   --config FILE [--listen ADDR] [--db PATH] [--node NAME] [--advertise URL] [--log-level LEVEL]
//	camvisor check --config FILE
//	camvisor db backup --db FILE --out COPY
//	camvisor db report --db FILE [--db FILE ...] [--camera ID] [--since T] [--html OUT]
//	camvisor version
//
// Every flag may also come from the environment: --db from CAMVISOR_DB,
// --log-level from CAMVISOR_LOG_LEVEL, and so on; the command line wins.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"camvisor/actors"
)

// version may be set by the Makefile (-ldflags "-X main.version=...");
// without it, the build information Go stamps into every binary names it.
var version = ""

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
		err = cmdRun(args[1:], stdout, stderr)
	case "check":
		err = cmdCheck(args[1:], stdout)
	case "db":
		err = cmdDB(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		err = cmdVersion(args[1:], stdout)
	case "help", "-h", "--help", "-help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "camvisor: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0 // asked for help, and given it
	case errors.Is(err, errUsage):
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
  run   --config FILE [--listen ADDR] [--db PATH]   start the server (SIGHUP reloads the config);
        [--node NAME] [--advertise URL]             in a cluster, this node's name and address
  check --config FILE                               validate a config and exit
  db backup --db FILE --out COPY                    consistent copy, safe while the server runs
  db report --db FILE [--db FILE ...] [--camera ID] [--since T] [--html OUT]
                                                    the incident report; one --db per node merges several
  version                                           print the version

Every flag may also be set in the environment as CAMVISOR_<FLAG>
(CAMVISOR_CONFIG, CAMVISOR_LISTEN, CAMVISOR_DB, CAMVISOR_LOG_LEVEL, ...);
the command line wins. NO_COLOR turns colours off.

Run "camvisor COMMAND -h" for a command's flags.
`)
}

// cmdVersion prints the version: the Makefile's, else the module version
// or VCS revision Go stamped into the binary.
func cmdVersion(args []string, out io.Writer) error {
	fs := newFlags("version", out)
	if err := parse(fs, args); err != nil {
		return err
	}
	b := actors.ReadBuild()
	rev := b.Revision
	if rev == "" {
		rev = "unknown revision"
	}
	fmt.Fprintf(out, "camvisor %s (%s, %s)\n", versionString(), rev, b.GoVersion)
	return nil
}

// versionString is the version recorded with each run and served by the
// API: -ldflags' when set; else the module version, or, for a build from
// a work tree, its VCS revision.
func versionString() string {
	if version != "" {
		return version
	}
	b := actors.ReadBuild()
	switch {
	case b.Version != "(devel)" && b.Version != "":
		return b.Version
	case b.Revision != "":
		return b.Revision
	}
	return "(devel)"
}

// newFlags is a FlagSet that reports errors instead of exiting, whose -h
// prints to out, and whose flags default to CAMVISOR_<FLAG> from the
// environment (applied by parse).
func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("camvisor "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage of camvisor %s:\n", name)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s\n    \t%s%s [env %s]\n", f.Name, f.Usage, def, envName(f.Name))
		})
	}
	return fs
}

// envName is the environment variable of a flag: --log-level is
// CAMVISOR_LOG_LEVEL.
func envName(flag string) string {
	return "CAMVISOR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// parse sets each flag from its environment variable, then from args (the
// command line wins). A bad value names the variable.
func parse(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := os.Getenv(envName(f.Name)); v != "" && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		fmt.Fprintf(fs.Output(), "camvisor: %v\n", err)
		return errUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "camvisor: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}

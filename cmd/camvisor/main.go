// Command camvisor is the camera patrol server.
//
//	camvisor run    --config FILE [--listen ADDR] [--db PATH] [--node NAME] [--advertise URL] [--log-level LEVEL] [--control-socket PATH]
//	camvisor check  --config FILE
//	camvisor reload --control-socket PATH
//	camvisor probe  URL [--password-file FILE] [--connections N] [--json]
//	camvisor db backup [--config FILE | --db FILE] --out COPY
//	camvisor db report [--config FILE | --db FILE [--db FILE ...]] [--camera ID] [--since T] [--html OUT]
//	camvisor version
//
// Every flag may also come from the environment: --db from CAMVISOR_DB,
// --log-level from CAMVISOR_LOG_LEVEL, and so on; the command line wins
// over every variable. Errors and usage after an error go to stderr; only
// what was asked for (a report, -h) goes to stdout. The exit codes are
// listed at exitOK.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"camvisor/actors"
)

// Set by the Makefile (-ldflags "-X main.version=... -X main.commit=...
// -X main.date=..."); without them, the build information Go stamps into
// every binary names the version and commit.
var (
	version = ""
	commit  = ""
	date    = ""
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes. A service manager reads them: systemd restarts on any but
// exitOK (Restart=on-failure) and never on exitConfig
// (RestartPreventExitStatus=78), since the same file fails the same way.
const (
	exitOK       = 0  // done, or stopped on request (SIGTERM, SIGINT)
	exitFailure  = 1  // a failure at run time: the record, the listen address, a camera
	exitUsage    = 2  // the command line was not understood
	exitSoftware = 70 // EX_SOFTWARE: the actor tree stopped without being asked to
	exitConfig   = 78 // EX_CONFIG: the configuration is missing or invalid, or a reload was rejected
)

// errUsage marks a command line that was not understood; usage is printed.
var errUsage = errors.New("usage")

// errTreeStopped is the server's end when its actor tree stopped without
// a signal asking it to: a failure, whatever its cause.
var errTreeStopped = errors.New("the actor tree stopped on its own")

// configError marks an error of the configuration (exit 78).
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// exitCode is the exit status of a command's error.
func exitCode(err error) int {
	var ce configError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK // asked for help, and given it
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.As(err, &ce):
		return exitConfig
	case errors.Is(err, errTreeStopped):
		return exitSoftware
	}
	return exitFailure
}

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stdout, stderr)
	case "check":
		err = cmdCheck(args[1:], stdout, stderr)
	case "reload":
		err = cmdReload(args[1:], stdout, stderr)
	case "probe":
		err = cmdProbe(args[1:], stdout, stderr)
	case "db":
		err = cmdDB(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		err = cmdVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "camvisor: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	code := exitCode(err)
	if code != exitOK && !errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "camvisor: %v\n", err)
	}
	return code
}

func usage(w io.Writer) {
	fmt.Fprint(w, `camvisor patrols IP cameras over RTSP and keeps no ffmpeg process alive
longer than the code that started it.

Commands:
  run    --config FILE [--listen ADDR] [--db PATH]   start the server (SIGHUP reloads the config);
         [--node NAME] [--advertise URL]             in a cluster, this node's name and address
  check  --config FILE                               validate a config and exit
  reload --control-socket PATH                       reload the running server's config; fails if rejected
  probe  URL [--connections N] [--json]              what a camera sends, and the config it suggests
  db backup [--config FILE|--db FILE] --out COPY     consistent copy, safe while the server runs
  db report [--config FILE|--db FILE] [--camera ID]  the incident report; one --db per node
                                                     merges several nodes' records
  version                                            print the version, commit and build date

Every flag may also be set in the environment as CAMVISOR_<FLAG>
(CAMVISOR_CONFIG, CAMVISOR_LISTEN, CAMVISOR_DB, CAMVISOR_LOG_LEVEL, ...);
the command line wins. NO_COLOR turns colours off.

Exit status: 0 done or stopped on request (SIGTERM, SIGINT), 1 failure,
2 bad command line, 70 the server stopped on its own, 78 configuration error
(or a rejected reload).

Run "camvisor COMMAND -h" for a command's flags.
`)
}

// cmdVersion prints the version, the commit and the build date: the
// Makefile's, else what Go stamped into the binary.
func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", stdout, stderr)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	b := actors.ReadBuild()
	rev := commit
	if rev == "" {
		rev = b.Revision
	}
	if rev == "" {
		rev = "unknown"
	}
	built := date
	if built == "" {
		built = "unknown"
	}
	fmt.Fprintf(stdout, "camvisor %s (commit %s, built %s, %s %s/%s)\n", versionString(), rev, built, b.GoVersion, runtime.GOOS, runtime.GOARCH)
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

// flags is a command's FlagSet and where its -h usage goes.
type flags struct {
	*flag.FlagSet
	stdout io.Writer
}

// newFlags is a FlagSet that reports errors (and usage after them) on
// stderr, prints -h's usage on stdout, and whose flags default to
// CAMVISOR_<FLAG> from the environment (applied by parse).
func newFlags(name string, stdout, stderr io.Writer) *flags {
	fs := flag.NewFlagSet("camvisor "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // parse prints it, to the stream that fits
	return &flags{FlagSet: fs, stdout: stdout}
}

// printFlags writes a command's flags with their variables.
func (fs *flags) printFlags(w io.Writer) {
	fmt.Fprintf(w, "Usage of %s:\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" {
			def = fmt.Sprintf(" (default %q)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s\n    \t%s%s [env %s]\n", f.Name, f.Usage, def, envName(f.Name))
	})
}

// envName is the environment variable of a flag: --log-level is
// CAMVISOR_LOG_LEVEL.
func envName(flag string) string {
	return "CAMVISOR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Where a flag's value came from, in the order they win.
const (
	fromDefault = iota
	fromEnv
	fromCommandLine
)

// sources tells where each flag's value came from.
type sources map[string]int

// parse sets each flag from its environment variable, then from args (the
// command line wins), and says where each value came from. A bad value
// names the variable. Positional arguments are refused unless the
// caller takes them (fs.Args after parseArgs).
func parse(fs *flags, args []string) (sources, error) {
	src, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "camvisor: unexpected argument %q\n", fs.Arg(0))
		fs.printFlags(fs.Output())
		return nil, errUsage
	}
	return src, nil
}

// parseArgs is parse for a command that takes positional arguments; a
// flag may follow them (camvisor probe URL --json).
func parseArgs(fs *flags, args []string) (sources, error) {
	src := sources{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := os.Getenv(envName(f.Name)); v != "" && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
			src[f.Name] = fromEnv
		}
	})
	if err != nil {
		fmt.Fprintf(fs.Output(), "camvisor: %v\n", err)
		return nil, errUsage
	}
	// Flags may come before and after the positional arguments.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.printFlags(fs.stdout)
				return nil, err
			}
			fs.printFlags(fs.Output())
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		if consumed := len(args) - fs.NArg(); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, fs.Args()...) // after --, no flags
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Visit(func(f *flag.Flag) { src[f.Name] = fromCommandLine })
	if len(positional) > 0 {
		_ = fs.Parse(append([]string{"--"}, positional...))
	}
	return src, nil
}
